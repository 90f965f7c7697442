"""The one WebSocket of the web app: `/ws/live/`, for logged-in users only."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from notifications.realtime import user_group


class LiveConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
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
