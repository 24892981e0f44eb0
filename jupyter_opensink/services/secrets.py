"""Random secrets and their one-way storage form."""

from __future__ import annotations

import base64
import hashlib
import secrets

KEY_PREFIX = "osk_"
EXECUTION_SECRET_PREFIX = "whsec_"  # the Standard Webhooks convention: base64 key after the prefix


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_execution_secret() -> str:
    return EXECUTION_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def new_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_secret(value: str) -> str:
    """SHA-256 is enough: the values hashed are 256-bit random strings, not passwords."""
    return hashlib.sha256(value.encode()).hexdigest()
