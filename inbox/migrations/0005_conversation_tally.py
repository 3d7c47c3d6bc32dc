import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, Value
from django.db.models.functions import Coalesce


def count_existing(apps, schema_editor):  # type: ignore[no-untyped-def]
    Conversation = apps.get_model("inbox", "Conversation")
    ConversationTally = apps.get_model("inbox", "ConversationTally")
    groups = (
        Conversation.objects.order_by()
        .values("inbox_id", "status")
        .annotate(key=Coalesce("assignee_id", Value(0)), n=Count("id"))
    )
    ConversationTally.objects.bulk_create(
        [
            ConversationTally(
                inbox_id=g["inbox_id"], status=g["status"], assignee_key=g["key"], count=g["n"]
            )
            for g in groups
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0004_waiting_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="ConversationTally",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("status", models.CharField(max_length=10)),
                ("assignee_key", models.BigIntegerField()),
                ("count", models.IntegerField(default=0)),
                (
                    "inbox",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inbox.inbox",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("inbox", "status", "assignee_key"),
                        name="conversation_tally_unique",
                    )
                ],
            },
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
