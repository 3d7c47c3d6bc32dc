"""ASGI entry point: HTTP through Django (provider webhooks through the intake in front of
it, inbox/sources/intake.py), websockets through Channels.

In the embedded shape (INBOX_IN_PROCESS_WORKER, the default without REDIS_URL) this process
also runs the background task worker in a thread; see inbox/worker.py.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inbox.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from inbox.routing import websocket_urlpatterns  # noqa: E402
from inbox.sources.intake import Intake  # noqa: E402
from inbox.worker import start_in_process_worker  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": Intake(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

if settings.INBOX_IN_PROCESS_WORKER:
    start_in_process_worker()
