from django.urls import path
from rest_framework.routers import SimpleRouter

from inbox.api import views

router = SimpleRouter(trailing_slash=True)
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("inboxes", views.InboxViewSet, basename="inbox")
router.register("labels", views.LabelViewSet, basename="label")

urlpatterns = [
    path("agents/", views.AgentListView.as_view(), name="agents"),
    path("search/", views.SearchView.as_view(), name="search"),
    *router.urls,
]
