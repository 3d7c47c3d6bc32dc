"""Indexes for search (inbox/queries/conversations.py: search_conversations).

The full-text GIN indexes exist on PostgreSQL only (SQLite searches by substring), so they
are created here rather than declared in the models' Meta, and CONCURRENTLY: on a large
installation building the message index takes minutes (about 200 s for 5M messages) and
must not block incoming messages meanwhile. Their expressions are exactly those the search
queries use, or the planner would not use them.
"""

from django.db import migrations, models


def _gin_indexes(apps):  # type: ignore[no-untyped-def]
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    return [
        (
            apps.get_model("inbox", "Message"),
            GinIndex(
                SearchVector("text", config="simple"),
                name="message_text_fts",
                condition=models.Q(kind__in=["message", "note"]),
            ),
        ),
        (
            apps.get_model("inbox", "Contact"),
            GinIndex(SearchVector("name", "email", config="simple"), name="contact_name_email_fts"),
        ),
        (
            apps.get_model("inbox", "Conversation"),
            GinIndex(SearchVector("subject", config="simple"), name="conv_subject_fts"),
        ),
    ]


def create_gin_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, index in _gin_indexes(apps):
        schema_editor.add_index(model, index, concurrently=True)


def drop_gin_indexes(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for model, index in _gin_indexes(apps):
        schema_editor.remove_index(model, index, concurrently=True)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("inbox", "0005_conversation_tally"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(fields=["-last_activity_at", "-id"], name="conv_activity"),
        ),
        migrations.RunPython(create_gin_indexes, drop_gin_indexes),
    ]
