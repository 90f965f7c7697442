"""The one WebSocket of the web app: `/ws/live/`, for logged-in users only.

The Origin is checked before this consumer runs (AllowedHostsOriginValidator in asgi.py), the
session user here. Each socket joins its user's group `user.<id>` and forwards the events
`justtrades.realtime.publish` sends there; the page only listens (and pings).
"""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from justtrades.realtime import user_group

# Closing with an application code needs an accepted socket: a refused handshake reaches the
# page as a bare 1006, which it cannot tell from a network failure and would retry forever.
NOT_LOGGED_IN = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.accept()
            await self.close(code=NOT_LOGGED_IN)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "data": {"user": user.username}})

    async def disconnect(self, code):
        group = getattr(self, "group", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The page only listens; a ping keeps proxies from closing an idle socket.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "data": {}})

    async def live_event(self, message):
        await self.send_json({"type": message["event"], "data": message["data"]})
