from django.urls import path

from inbox.sources.telegram import views

urlpatterns = [path("<uuid:inbox_id>/", views.webhook, name="webhook")]
