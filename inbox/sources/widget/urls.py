from django.urls import path

from inbox.sources.widget import views

urlpatterns = [
    path("<uuid:inbox_id>/config", views.ConfigView.as_view(), name="config"),
    path("<uuid:inbox_id>/session", views.SessionView.as_view(), name="session"),
    path("<uuid:inbox_id>/identify", views.IdentifyView.as_view(), name="identify"),
    path("<uuid:inbox_id>/reset", views.ResetView.as_view(), name="reset"),
    path("<uuid:inbox_id>/messages", views.MessagesView.as_view(), name="messages"),
    path("<uuid:inbox_id>/read", views.ReadView.as_view(), name="read"),
    path("<uuid:inbox_id>/email", views.EmailView.as_view(), name="email"),
    path("<uuid:inbox_id>/rating", views.RatingView.as_view(), name="rating"),
    path(
        "<uuid:inbox_id>/files/<int:attachment_id>/<str:signature>",
        views.FileView.as_view(),
        name="file",
    ),
]
