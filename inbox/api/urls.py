from django.urls import path
from rest_framework.routers import SimpleRouter

from inbox.api import files, views

router = SimpleRouter(trailing_slash=True)
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("inboxes", views.InboxViewSet, basename="inbox")
router.register("labels", views.LabelViewSet, basename="label")
router.register("canned-replies", views.CannedReplyViewSet, basename="canned-reply")

urlpatterns = [
    path("agents/", views.AgentListView.as_view(), name="agents"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("insights/", views.InsightsView.as_view(), name="insights"),
    path(
        "attachments/<int:attachment_id>/download",
        files.AttachmentDownloadView.as_view(),
        name="attachment-download",
    ),
    path(
        "messages/<int:message_id>/retry/", views.RetryDeliveryView.as_view(), name="message-retry"
    ),
    path("messages/<int:message_id>/raw", files.RawEmailView.as_view(), name="message-raw"),
    *router.urls,
]
