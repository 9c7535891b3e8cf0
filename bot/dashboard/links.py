"""Short-lived signed links to the live class view: who may look, and until when.

A link carries ``<user>.<expiry>.<signature>``: an HMAC-SHA256 over the user and the
expiry with the deployment's secret, in URL-safe base64. Nothing is stored: a link is
checked from itself, on any replica, and stops working when it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from bot.errors import TutorError

LINK_MINUTES = 120
"""How long a dashboard link works: a workshop's length, not a day."""


class LinkError(TutorError):
    """A dashboard link that is malformed, forged or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).digest())


def sign_link(secret: bytes, user: str, *, minutes: float = LINK_MINUTES,
              now: float | None = None) -> str:
    """A token for ``user`` that :func:`check_link` accepts for ``minutes``.

    Raises:
        LinkError: No secret is configured.
    """
    if not secret:
        raise LinkError("The dashboard has no signing secret configured.")
    expiry = int((time.time() if now is None else now) + minutes * 60)
    payload = f"{_b64(user.encode('utf-8'))}.{expiry}"
    return f"{payload}.{_mac(secret, payload)}"


def check_link(secret: bytes, token: str, *, now: float | None = None) -> str:
    """The user a valid, unexpired token was signed for.

    Raises:
        LinkError: The token is malformed, its signature does not match, or it expired.
    """
    parts = token.split(".")
    if not secret or len(parts) != 3 or len(token) > 600:
        raise LinkError("This dashboard link is not valid.")
    user_b64, expiry_text, mac = parts
    payload = f"{user_b64}.{expiry_text}"
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise LinkError("This dashboard link is not valid.")
    if not expiry_text.isdigit() or int(expiry_text) < (time.time() if now is None else now):
        raise LinkError("This dashboard link has expired: ask for a new one with "
                        "`/tutor progress live`.")
    try:
        return base64.urlsafe_b64decode(user_b64 + "=" * (-len(user_b64) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise LinkError("This dashboard link is not valid.") from exc
