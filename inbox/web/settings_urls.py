from django.urls import path

from inbox.web import messaging_views, policy_views, provider_event_views, widget_views
from inbox.web import settings_views as views

app_name = "inbox_settings"

urlpatterns = [
    path("inboxes/", views.inbox_list, name="inbox_list"),
    path("inboxes/new/", views.inbox_create, name="inbox_create"),
    path("inboxes/<int:inbox_id>/", views.inbox_edit, name="inbox_edit"),
    path("inboxes/<int:inbox_id>/rotate-keys/", views.inbox_rotate_keys, name="inbox_rotate_keys"),
    path("inboxes/<int:inbox_id>/check-mail/", views.inbox_check_mail, name="inbox_check_mail"),
    path("inboxes/<int:inbox_id>/policy/", policy_views.inbox_policy, name="inbox_policy"),
    path(
        "inboxes/<int:inbox_id>/policy/auto-send/",
        policy_views.auto_send_add,
        name="auto_send_add",
    ),
    path(
        "inboxes/<int:inbox_id>/policy/auto-send/<int:rule_id>/delete/",
        policy_views.auto_send_delete,
        name="auto_send_delete",
    ),
    path("inboxes/new-email/", views.email_inbox_create, name="email_inbox_create"),
    path("inboxes/<int:inbox_id>/email/", views.email_inbox_edit, name="email_inbox_edit"),
    path(
        "inboxes/<int:inbox_id>/email/test-imap/",
        views.email_inbox_test_imap,
        name="email_inbox_test_imap",
    ),
    path(
        "inboxes/<int:inbox_id>/email/test-send/",
        views.email_inbox_test_send,
        name="email_inbox_test_send",
    ),
    path("inboxes/new-chat/", widget_views.widget_inbox_create, name="widget_inbox_create"),
    path("inboxes/<int:inbox_id>/chat/", widget_views.widget_inbox_edit, name="widget_inbox_edit"),
    path(
        "inboxes/<int:inbox_id>/chat/rotate-secret/",
        widget_views.widget_rotate_secret,
        name="widget_rotate_secret",
    ),
    path(
        "inboxes/new/<str:kind>/",
        messaging_views.messaging_inbox_create,
        name="messaging_inbox_create",
    ),
    path(
        "inboxes/<int:inbox_id>/messaging/",
        messaging_views.messaging_inbox_edit,
        name="messaging_inbox_edit",
    ),
    path(
        "inboxes/<int:inbox_id>/messaging/test/",
        messaging_views.messaging_inbox_test,
        name="messaging_inbox_test",
    ),
    path(
        "messaging/unprocessed/",
        provider_event_views.provider_event_list,
        name="provider_event_list",
    ),
    path(
        "messaging/unprocessed/<int:event_id>/process/",
        provider_event_views.provider_event_reprocess,
        name="provider_event_reprocess",
    ),
    path("email/failed/", views.failed_email_list, name="failed_email_list"),
    path(
        "email/failed/reprocess/", views.failed_email_reprocess, name="failed_email_reprocess_all"
    ),
    path(
        "email/failed/<int:email_id>/reprocess/",
        views.failed_email_reprocess,
        name="failed_email_reprocess",
    ),
    path("email/<int:email_id>/raw/", views.failed_email_raw, name="failed_email_raw"),
    path("canned-replies/", views.canned_list, name="canned_list"),
    path("canned-replies/<int:reply_id>/", views.canned_edit, name="canned_edit"),
    path("canned-replies/export/", views.canned_export, name="canned_export"),
    path("canned-replies/import/", views.canned_import, name="canned_import"),
    path("labels/", views.label_list, name="label_list"),
    path("labels/<int:label_id>/", views.label_edit, name="label_edit"),
]
