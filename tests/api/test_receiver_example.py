"""The callback receiver example of the callbacks reference page, run for real against a callback."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from ..servers import free_port, until_listening

PAGE = Path(__file__).parents[2] / "docs" / "reference" / "callbacks.md"


def receiver_code(secret: str, port: int) -> str:
    text = PAGE.read_text()
    block = re.search(r"A receiver,\s+with the standard library only:\s+(?:<!--.*?-->\s+)?```python\n(.*?)```", text,
                      re.S).group(1)
    block = block.replace('SECRET = "whsec_..."', f"SECRET = {secret!r}")
    return block.replace('("127.0.0.1", 8700)', f'("127.0.0.1", {port})')


async def test_the_documented_receiver_verifies_real_callbacks(api):
    port = free_port()
    statuses = []
    for right in (True, False):  # the agent's own secret, then a wrong one
        agent = (await api("POST", "/v1/agents", {"name": "receiver",
                                                  "execution_endpoint": {"url": f"http://127.0.0.1:{port}/"}})).body
        secret = agent["execution_secret"] if right else "whsec_" + "A" * 44
        proc = subprocess.Popen([sys.executable, "-c", receiver_code(secret, port)], stderr=subprocess.DEVNULL)
        try:
            await until_listening(port)
            session = (await api("POST", "/v1/agent-sessions", {"agent_id": agent["id"]})).body
            request = (await api("POST", "/v1/agent-session-input-requests", {
                "session_id": session["id"], "agent_id": agent["id"], "key": "k", "title": "t", "message": "m",
                "schema": {"type": "object"}})).body
            await api("POST", f"/v1/agent-session-input-requests/{request['id']}/resolve", {"response": {}})
            for _ in range(100):
                records = (await api("GET", "/v1/execution-deliveries", params={"session_id": session["id"]})).body
                if records["items"]:
                    break
                await asyncio.sleep(0.05)
            statuses.append(records["items"][0]["status_code"])
        finally:
            proc.kill()
            proc.wait()
    assert statuses == [204, 401]  # accepted when signed with its secret, refused otherwise
