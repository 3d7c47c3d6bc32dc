from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import views

router = SimpleRouter(trailing_slash=True)
router.register("users", views.UserViewSet, basename="user")
router.register("invitations", views.InvitationViewSet, basename="invitation")
router.register("teams", views.TeamViewSet, basename="team")
router.register("tokens", views.ApiTokenViewSet, basename="token")
router.register("audit-log", views.AuditLogViewSet, basename="audit")

urlpatterns = [path("me/", views.MeView.as_view(), name="me"), *router.urls]
