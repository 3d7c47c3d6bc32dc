"""Websocket routes. Agents authenticate with their session or a token (and a browser's
Origin must be ours); website visitors come from the customers' sites, checked against each
widget inbox's allowed origins by their consumer."""

from django.urls import path

from inbox.consumers import AgentConsumer
from inbox.realtime_auth import AgentSocketAuth
from inbox.sources.widget.consumer import VisitorConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentSocketAuth(AgentConsumer.as_asgi())),
    path("ws/widget/", VisitorConsumer.as_asgi()),
]
