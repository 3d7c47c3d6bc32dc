from django.urls import path

from inbox.sources.api.views import InboundMessageView

urlpatterns = [
    path("<uuid:public_id>/messages", InboundMessageView.as_view(), name="messages"),
]
