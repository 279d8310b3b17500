"""Bearer tokens for API callers (settings.web.api_keys, DONGXUN_API_KEYS): when keys are configured, every
API route but the health checks asks for `Authorization: Bearer <key>`; when none are, the API is open.
The page never asks for them.

Keys are compared by their SHA-256 digests in constant time; a refused key is logged with the client's
address, never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence

from fastapi import Request

from bot.web.api import messages
from bot.web.api.errors import ApiError

log = logging.getLogger(__name__)

CHALLENGE = {"WWW-Authenticate": "Bearer"}
UNKNOWN_CLIENT = "unknown"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class BearerKeys:
    """A FastAPI dependency: passes when no keys are configured or the request carries one of them."""

    def __init__(self, keys: Sequence[str]):
        self._digests = [_digest(k) for k in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def __call__(self, request: Request) -> None:
        if not self._digests:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, messages.MISSING_KEY, code="invalid_api_key", headers=CHALLENGE)
        digest = _digest(token)
        if not any([hmac.compare_digest(digest, d) for d in self._digests]):  # a list: every key is compared
            client = request.client.host if request.client else UNKNOWN_CLIENT
            log.warning("API request with a wrong key from %s refused", client)
            raise ApiError(401, messages.BAD_KEY, code="invalid_api_key", headers=CHALLENGE)
