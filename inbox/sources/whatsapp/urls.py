from django.urls import path

from inbox.sources.meta import webhook

urlpatterns = [
    path("<uuid:inbox_id>/", webhook("whatsapp", "whatsapp_business_account"), name="webhook")
]
