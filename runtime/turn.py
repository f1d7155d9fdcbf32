"""ICE servers for live sessions, with time-limited TURN credentials in the TURN REST API scheme (coturn's
use-auth-secret): the username is '<unix expiry>:<user>', the password base64(HMAC-SHA1(secret, username)). The
TURN server checks both with the secret it shares with the runtime: nothing is stored, nothing is long-lived, and a
credential stops working at its expiry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from contracts.gpu_service import IceServer
from contracts.runtime import IceServers
from runtime.config import Settings


def turn_credential(secret: str, user: str, expires_at: int) -> tuple[str, str]:
    """(username, password) that a TURN server sharing `secret` accepts until `expires_at` (unix time)."""
    username = f"{expires_at}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(settings: Settings, owner: str, now: float | None = None) -> IceServers:
    """What one live session's peers are configured with: the STUN servers, and the TURN servers with credentials
    made now for `owner` (a hash of its key: the TURN server's logs name no key)."""
    servers = [IceServer(urls=settings.stun_urls)] if settings.stun_urls else []
    expires_at = None
    if settings.turn_urls and settings.turn_secret is not None:
        expires_at = int(now if now is not None else time.time()) + settings.turn_credential_ttl_s
        user = hashlib.sha256(owner.encode()).hexdigest()[:12] if owner else "guest"
        username, password = turn_credential(settings.turn_secret.get_secret_value(), user, expires_at)
        servers.append(IceServer(urls=settings.turn_urls, username=username, credential=password))
    return IceServers(ice_servers=servers, ice_transport_policy=settings.ice_transport_policy, expires_at=expires_at)
