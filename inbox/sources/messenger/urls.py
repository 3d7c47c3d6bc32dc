from django.urls import path

from inbox.sources.meta import webhook

urlpatterns = [path("<uuid:inbox_id>/", webhook("messenger", "page"), name="webhook")]
