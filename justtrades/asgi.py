"""ASGI entry point: HTTP through Django, WebSockets through Channels.

WebSockets need a logged-in session (AuthMiddlewareStack) and an Origin from ALLOWED_HOSTS, so a
page on another site cannot open a socket with a trader's cookies.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "justtrades.settings")
os.environ.setdefault("JT_DB_POOL", "1")  # see DB_POOL in settings
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from justtrades.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
