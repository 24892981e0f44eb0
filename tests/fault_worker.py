"""One client process of the fault test: a deterministic sequence of writes, each with an
Idempotency-Key, logging every acknowledged one. Run again after a restart, it resumes at the
first write it has no answer for (sending it again with the same key).

    python -m tests.fault_worker <api url> <api key> <worker name> <log file> <max ops> <callback url>
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx

RESOLVE_EVERY = 4  # every 4th operation asks and answers an input request
#: Every other of those asks with key "auto" and a proposal: the test's approval policy decides it as it is created.
POLICY_EVERY = 2 * RESOLVE_EVERY


class ServerGone(Exception):
    pass


def post(client: httpx.Client, path: str, body: dict, key: str) -> tuple[int, dict]:
    try:
        reply = client.post(path, json=body, headers={"Idempotency-Key": key})
    except httpx.TransportError as exc:
        raise ServerGone(str(exc)) from None
    if reply.status_code >= 500:
        raise ServerGone(f"{reply.status_code} {reply.text}")
    return reply.status_code, reply.json()


def create(client: httpx.Client, path: str, body: dict) -> dict:
    """Setup for this run (no key: a new one each run is fine)."""
    try:
        reply = client.post(path, json=body)
    except httpx.TransportError as exc:
        raise ServerGone(str(exc)) from None
    if reply.status_code != 201:
        raise ServerGone(f"{reply.status_code} {reply.text}")
    return reply.json()


def main(url: str, key: str, name: str, log_path: str, max_ops: int, callback_url: str) -> None:
    log = Path(log_path)
    done = {json.loads(line)["op"] for line in log.read_text().splitlines()} if log.exists() else set()
    start = max(done, default=-1) + 1
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client, \
            log.open("a") as out:
        try:
            sink = create(client, "/sinks", {"name": f"sink-{name}"})
            agent = create(client, "/agents", {"name": f"agent-{name}", "execution_endpoint": {"url": callback_url}})
        except ServerGone:
            return
        for op in range(start, max_ops):
            title = f"{name}-{op}"
            try:
                if op % RESOLVE_EVERY == RESOLVE_EVERY - 1:
                    record = ask_and_answer(client, title, agent, by_policy=op % POLICY_EVERY == POLICY_EVERY - 1)
                else:
                    status, item = post(client, "/sink-items", {"sink_id": sink["id"], "title": title}, title)
                    record = {"kind": "item", "status": status, "id": item.get("id")}
            except ServerGone:
                return
            out.write(json.dumps({"op": op, "title": title, **record}) + "\n")
            out.flush()
            time.sleep(0.002)


def ask_and_answer(client: httpx.Client, title: str, agent: dict, by_policy: bool = False) -> dict:
    status, session = post(client, "/agent-sessions", {"agent_id": agent["id"]}, f"{title}-session")
    if status == 409:
        return {"kind": "resolve", "status": 409, "step": "session"}
    proposal = {"key": "auto", "defaults": {}, "decisions": ["approve"]} if by_policy else {"key": "go"}
    status, request = post(client, "/agent-session-input-requests", {
        "session_id": session["id"], "agent_id": agent["id"], "title": title, "message": "ok?",
        "schema": {"type": "object"}, **proposal}, f"{title}-request")
    if status == 409:
        return {"kind": "resolve", "status": 409, "step": "request", "session_id": session["id"]}
    if by_policy:  # decided as it was created (200: acknowledged as resolved)
        return {"kind": "resolve", "status": 200 if request.get("status") == "resolved" else 0,
                "id": request.get("id"), "session_id": session["id"], "by": request.get("resolved_by")}
    status, resolved = post(client, f"/agent-session-input-requests/{request['id']}/resolve", {"response": {}},
                            f"{title}-resolve")
    return {"kind": "resolve", "status": status, "id": request["id"], "session_id": session["id"]}


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
