from django.urls import path

from inbox.web import settings_views as views

app_name = "inbox_settings"

urlpatterns = [
    path("inboxes/", views.inbox_list, name="inbox_list"),
    path("inboxes/new/", views.inbox_create, name="inbox_create"),
    path("inboxes/<int:inbox_id>/", views.inbox_edit, name="inbox_edit"),
    path("inboxes/<int:inbox_id>/rotate-keys/", views.inbox_rotate_keys, name="inbox_rotate_keys"),
    path("labels/", views.label_list, name="label_list"),
    path("labels/<int:label_id>/", views.label_edit, name="label_edit"),
]
