"""/v1/notification-channels and /v1/notification-deliveries: the Jupyter user alone (channel URLs hold
credentials, and a channel decides where requests' approval links are sent)."""

from __future__ import annotations

from ..models.notifications import (ChannelCreate, ChannelTest, ChannelUpdate, NotificationChannel,
                                    NotificationDelivery, NotificationDeliveryFilters)
from .call import Call
from .crud import create, listing, one, patch
from .routing import ADMIN, Json, Page, Route
from .validation import Empty


async def test_channel(call: Call) -> dict:
    call.body(Empty)
    return await call.services.notifications.test(call.workspace_id, call.params["id"])


CHANNELS, DELIVERIES = "notification-channels", "notification-deliveries"
ROUTES = [
    Route("POST", "/notification-channels", create(lambda s: s.notifications.create, ChannelCreate), ADMIN,
          "Add a notification channel (an Apprise URL); replies show its URL masked from now on.",
          Json(NotificationChannel, 201), body=ChannelCreate, tag=CHANNELS),
    Route("GET", "/notification-channels", listing(lambda s: s.notifications.list), ADMIN,
          "List notification channels (URLs masked).", Page(NotificationChannel), tag=CHANNELS),
    Route("GET", "/notification-channels/{id}", one(lambda s: s.notifications.get), ADMIN,
          "Get a notification channel (URL masked).", Json(NotificationChannel), tag=CHANNELS),
    Route("PATCH", "/notification-channels/{id}", patch(lambda s: s.notifications.update, ChannelUpdate), ADMIN,
          "Change a notification channel.", Json(NotificationChannel), body=ChannelUpdate, tag=CHANNELS),
    Route("DELETE", "/notification-channels/{id}", one(lambda s: s.notifications.delete), ADMIN,
          "Delete a notification channel (its delivery records stay).", Json(NotificationChannel), tag=CHANNELS),
    Route("POST", "/notification-channels/{id}/test", test_channel, ADMIN,
          "Send a test message now: delivered, or the service's reason (bounded by notification_timeout).",
          Json(ChannelTest), body=Empty, tag=CHANNELS),
    Route("GET", "/notification-deliveries", listing(lambda s: s.notifications.deliveries), ADMIN,
          "Every attempt to notify a channel (filters: channel_id, request_id, ok).", Page(NotificationDelivery),
          tag=DELIVERIES, query=NotificationDeliveryFilters),
    Route("GET", "/notification-deliveries/{id}", one(lambda s: s.notifications.get_delivery), ADMIN,
          "Get one notification attempt.", Json(NotificationDelivery), tag=DELIVERIES),
]
