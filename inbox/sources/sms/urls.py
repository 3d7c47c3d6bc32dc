from django.urls import path

from inbox.sources.sms import views

urlpatterns = [
    path("<uuid:inbox_id>/", views.webhook, name="webhook"),
    path("<uuid:inbox_id>/status/", views.status, name="status"),
    path("<uuid:inbox_id>/media/<int:attachment_id>/<str:token>", views.media, name="media"),
]
