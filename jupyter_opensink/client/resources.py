"""Resource namespaces shared by the sync and the async client.

Each method builds one request and hands it to the client's ``_request``;
the sync client returns the result, the async one a coroutine, so the
namespaces are written once for both.
"""

from __future__ import annotations

from typing import Any


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        out[{"limit": "$limit", "trail": "$trail", "order": "$order"}.get(key, key)] = value
    return out


class Resource:
    """``create``, ``get``, ``update``, ``delete``, ``list`` (one page) and ``iter`` (every page)."""

    def __init__(self, client: Any, path: str):
        self._client = client
        self.path = path

    def create(self, **fields: Any) -> Any:
        return self._client._request("POST", self.path, json=fields)

    def get(self, id: str) -> Any:
        return self._client._request("GET", f"{self.path}/{id}")

    def update(self, id: str, **fields: Any) -> Any:
        return self._client._request("PATCH", f"{self.path}/{id}", json=fields)

    def delete(self, id: str) -> Any:
        return self._client._request("DELETE", f"{self.path}/{id}")

    def list(self, **filters: Any) -> Any:
        """One page: ``{"items": [...], "trail": ...}``; ``limit``, ``trail``, ``order`` page it."""
        return self._client._request("GET", self.path, params=_clean(filters))

    def iter(self, **filters: Any) -> Any:
        """Every matching object, fetching pages lazily."""
        return self._client._iterate(self.path, _clean(filters))


class SinkItems(Resource):
    def many(self, items: list[dict[str, Any]]) -> Any:
        """Create up to 1000 items at once: all, or none if any is invalid."""
        return self._client._request("POST", f"{self.path}/many", json={"items": items})


class AgentConfigurations(Resource):
    def variants(self, agent_id: str) -> Any:
        return self._client._request("GET", f"{self.path}/variants", params={"agent_id": agent_id})

    def active(self, agent_id: str) -> Any:
        return self._client._request("GET", f"{self.path}/agent/{agent_id}")


class InputRequests(Resource):
    def resolve(self, id: str, response: dict[str, Any]) -> Any:
        return self._client._request("POST", f"{self.path}/{id}/resolve", json={"response": response})

    def create_link(self, id: str, *, expires_in: int | None = None, note: str | None = None) -> Any:
        """An approval link for a pending request: its ``url`` (shown only now) opens a page that answers it."""
        body = {k: v for k, v in (("expires_in", expires_in), ("note", note)) if v is not None}
        return self._client._request("POST", f"{self.path}/{id}/links", json=body)

    def links(self, id: str, **filters: Any) -> Any:
        """One page of the request's approval links (never their URLs)."""
        return self._client._request("GET", f"{self.path}/{id}/links", params=_clean(filters))

    def revoke_link(self, id: str, link_id: str) -> Any:
        """The link's page stops working at once."""
        return self._client._request("DELETE", f"{self.path}/{id}/links/{link_id}")


class _RotatesSecret(Resource):
    def rotate_secret(self, id: str) -> Any:
        """A new secret replaces the old one at once; the reply shows it this once."""
        return self._client._request("POST", f"{self.path}/{id}/rotate-secret")


class Agents(_RotatesSecret):
    """``create`` and ``rotate_secret`` show the agent's ``execution_secret`` (its callbacks carry it)."""


class BackgroundJobs(_RotatesSecret):
    """``create`` and ``rotate_secret`` show the job's ``signing_secret`` (its url requests are signed with it)."""

    def trigger(self, id: str) -> Any:
        return self._client._request("POST", f"{self.path}/{id}/trigger")

    def runs(self, job_id: str | None = None, **filters: Any) -> Any:
        return self._client._request("GET", "/background-job-runs", params=_clean({"job_id": job_id, **filters}))


class Workspaces(_RotatesSecret):
    pass


class States:
    """Namespaced key-value memory: ``put`` / ``get`` / ``delete`` / ``list`` / ``iter``.

    ``if_match=<version>`` makes a write or delete conditional (``PreconditionFailed`` otherwise);
    ``only_new=True`` writes only if the state does not exist.
    """

    def __init__(self, client: Any, path: str):
        self._client = client
        self.path = path

    @staticmethod
    def _conditions(if_match: int | None, only_new: bool = False) -> dict[str, str] | None:
        headers = {}
        if if_match is not None:
            headers["If-Match"] = str(if_match)
        if only_new:
            headers["If-None-Match"] = "*"
        return headers or None

    def put(self, namespace: str, key: str, value: Any, *, expires_at: str | None = None,
            if_match: int | None = None, only_new: bool = False) -> Any:
        body = {"value": value, **({"expires_at": expires_at} if expires_at is not None else {})}
        return self._client._request("PUT", f"{self.path}/{namespace}/{key}", json=body,
                                     headers=self._conditions(if_match, only_new))

    def get(self, namespace: str, key: str) -> Any:
        return self._client._request("GET", f"{self.path}/{namespace}/{key}")

    def delete(self, namespace: str, key: str, *, if_match: int | None = None) -> Any:
        return self._client._request("DELETE", f"{self.path}/{namespace}/{key}", headers=self._conditions(if_match))

    def list(self, namespace: str, **filters: Any) -> Any:
        """One page of the namespace (``prefix=`` on keys; ``limit``, ``trail``, ``order``)."""
        return self._client._request("GET", f"{self.path}/{namespace}", params=_clean(filters))

    def iter(self, namespace: str, **filters: Any) -> Any:
        return self._client._iterate(f"{self.path}/{namespace}", _clean(filters))


class Discovery:
    """``client.discovery()``: what this client's key can see and do."""

    def __init__(self, client: Any, path: str):
        self._client = client
        self.path = path

    def __call__(self) -> Any:
        return self._client._request("GET", self.path)


class Webhooks(Resource):
    def invocations(self, webhook_id: str | None = None, **filters: Any) -> Any:
        """One page of the webhook's invocations and their outcomes."""
        return self._client._request("GET", "/webhook-invocations", params=_clean({"webhook_id": webhook_id,
                                                                                   **filters}))


NAMESPACES = {
    "states": (States, "/states"),
    "webhooks": (Webhooks, "/webhooks"),
    "discovery": (Discovery, "/discovery"),
    "sinks": (Resource, "/sinks"),
    "sink_items": (SinkItems, "/sink-items"),
    "agents": (Agents, "/agents"),
    "agent_configurations": (AgentConfigurations, "/agent-configurations"),
    "agent_sessions": (Resource, "/agent-sessions"),
    "input_requests": (InputRequests, "/agent-session-input-requests"),
    "activities": (Resource, "/agent-session-activities"),
    "background_jobs": (BackgroundJobs, "/background-jobs"),
    "execution_deliveries": (Resource, "/execution-deliveries"),
    "api_keys": (Resource, "/api-keys"),
    "workspaces": (Workspaces, "/workspaces"),
}
