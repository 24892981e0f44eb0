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


#: Which secret a workspace's agent callbacks carry: each agent's own (the default for new workspaces),
#: or the workspace's (the hosted API's behaviour, for agents configured with it).
CALLBACK_SECRET_MODES = ("agent", "workspace")
#: A workspace stored before the setting existed keeps the behaviour its agents were configured for.
STORED_WITHOUT_MODE = "workspace"


def callback_secret_mode(workspace: dict) -> str:
    return workspace.get("callback_secret") or STORED_WITHOUT_MODE


def agent_callback_secret(workspace: dict, agent: dict) -> str | None:
    """The secret a callback to ``agent`` carries and is signed with; None when the agent must get one.

    With per-agent secrets, a key that can point one agent at its own host learns that agent's
    secret only: it cannot forge "a human answered" to any other agent of the workspace.
    """
    if callback_secret_mode(workspace) == "workspace":
        return workspace["execution_secret"]
    return agent.get("execution_secret")
