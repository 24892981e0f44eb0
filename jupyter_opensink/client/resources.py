"""Resource namespaces shared by the sync and the async client.

Each method describes one request (an ``ApiCall`` typed with its reply's shape)
and the ``endpoint`` decorator hands it to the client's ``_send``: the sync
client returns the result, the async one a coroutine, so the namespaces are
written once for both (see ``calls.py``). ``Namespaces`` is what both clients
are made of: one attribute per resource.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from .calls import ApiCall, ModeT, Namespace, endpoint, every_page
from .types import (Activity, Agent, AgentConfiguration, AgentSession, AgentWithSecret, ApiKey, ApprovalLink,
                    ApprovalPolicy, AuditRecord, AuditVerification, BackgroundJob, BackgroundJobRun,
                    BackgroundJobWithSecret, ChannelTest, ExecutionDelivery, InputRequest, ManyItems, NewApiKey,
                    NewApprovalLink, NotebookRun, NotificationChannel, NotificationDelivery, Page, Sink, SinkItem,
                    State, Webhook, WebhookInvocation, Workspace)
from .types import Discovery as DiscoveryReply

#: One object of a namespace, as its replies show it.
ObjT = TypeVar("ObjT")
#: The same object as its create and rotate-secret replies show it: with its secret.
SecretT = TypeVar("SecretT")


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        out[{"limit": "$limit", "trail": "$trail", "order": "$order"}.get(key, key)] = value
    return out


class Resource(Namespace[ModeT], Generic[ModeT, ObjT]):
    """``create``, ``get``, ``update``, ``delete``, ``list`` (one page) and ``iter`` (every page)."""

    # ``self, /``: a field may be called anything, even "self".
    @endpoint
    def create(self, /, **fields: Any) -> ApiCall[ObjT]:
        return ApiCall("POST", self.path, json=fields)

    @endpoint
    def get(self, id: str) -> ApiCall[ObjT]:
        return ApiCall("GET", f"{self.path}/{id}")

    @endpoint
    def update(self, /, id: str, **fields: Any) -> ApiCall[ObjT]:
        return ApiCall("PATCH", f"{self.path}/{id}", json=fields)

    @endpoint
    def delete(self, id: str) -> ApiCall[ObjT]:
        return ApiCall("DELETE", f"{self.path}/{id}")

    @endpoint
    def list(self, /, **filters: Any) -> ApiCall[Page[ObjT]]:
        """One page: ``{"items": [...], "trail": ...}``; ``limit``, ``trail``, ``order`` page it."""
        return ApiCall("GET", self.path, params=_clean(filters))

    @every_page
    def iter(self, /, **filters: Any) -> ApiCall[Page[ObjT]]:
        """Every matching object, fetching pages lazily."""
        return ApiCall("GET", self.path, params=_clean(filters))


class SinkItems(Resource[ModeT, SinkItem]):
    @endpoint
    def many(self, items: list[dict[str, Any]]) -> ApiCall[ManyItems]:
        """Create up to 1000 items at once: all, or none if any is invalid."""
        return ApiCall("POST", f"{self.path}/many", json={"items": items})


class AgentConfigurations(Resource[ModeT, AgentConfiguration]):
    @endpoint
    def variants(self, agent_id: str) -> ApiCall[Page[AgentConfiguration]]:
        return ApiCall("GET", f"{self.path}/variants", params={"agent_id": agent_id})

    @endpoint
    def active(self, agent_id: str) -> ApiCall[AgentConfiguration]:
        return ApiCall("GET", f"{self.path}/agent/{agent_id}")


class InputRequests(Resource[ModeT, InputRequest]):
    @endpoint
    def resolve(self, id: str, response: dict[str, Any] | None = None, *, decision: str | None = None,
                comment: str | None = None, remember_seconds: int | None = None) -> ApiCall[InputRequest]:
        """Answer a request: with its ``response`` (a request without ``decisions``), or with a ``decision``
        (``approve`` with the response, ``reject`` with a ``comment`` saying why, ``respond`` with words).
        ``remember_seconds`` with an approval (the Jupyter user only): approve the same again, without
        asking, for that long (an approval policy)."""
        body: dict[str, Any] = {k: v for k, v in (("response", response), ("decision", decision),
                                                  ("comment", comment)) if v is not None}
        if remember_seconds is not None:
            body["remember"] = {"seconds": remember_seconds}
        return ApiCall("POST", f"{self.path}/{id}/resolve", json=body)

    @endpoint
    def create_link(self, id: str, *, expires_in: int | None = None,
                    note: str | None = None) -> ApiCall[NewApprovalLink]:
        """An approval link for a pending request: its ``url`` (shown only now) opens a page that answers it."""
        body = {k: v for k, v in (("expires_in", expires_in), ("note", note)) if v is not None}
        return ApiCall("POST", f"{self.path}/{id}/links", json=body)

    @endpoint
    def links(self, /, id: str, **filters: Any) -> ApiCall[Page[ApprovalLink]]:
        """One page of the request's approval links (never their URLs)."""
        return ApiCall("GET", f"{self.path}/{id}/links", params=_clean(filters))

    @endpoint
    def revoke_link(self, id: str, link_id: str) -> ApiCall[ApprovalLink]:
        """The link's page stops working at once."""
        return ApiCall("DELETE", f"{self.path}/{id}/links/{link_id}")


class _RotatesSecret(Resource[ModeT, ObjT], Generic[ModeT, ObjT, SecretT]):
    """Objects with a secret that the reply of ``rotate_secret`` shows (and, for some, that of ``create``)."""

    @endpoint
    def rotate_secret(self, id: str) -> ApiCall[SecretT]:
        """A new secret replaces the old one at once; the reply shows it this once."""
        return ApiCall("POST", f"{self.path}/{id}/rotate-secret")


class Agents(_RotatesSecret[ModeT, Agent, AgentWithSecret]):
    """``create`` and ``rotate_secret`` show the agent's ``execution_secret`` (its callbacks carry it)."""

    @endpoint
    def create(self, /, **fields: Any) -> ApiCall[AgentWithSecret]:
        return ApiCall("POST", self.path, json=fields)


class BackgroundJobs(_RotatesSecret[ModeT, BackgroundJob, BackgroundJobWithSecret]):
    """``create`` and ``rotate_secret`` show the job's ``signing_secret`` (its url requests are signed with it)."""

    @endpoint
    def create(self, /, **fields: Any) -> ApiCall[BackgroundJobWithSecret]:
        return ApiCall("POST", self.path, json=fields)

    @endpoint
    def trigger(self, id: str) -> ApiCall[BackgroundJobRun]:
        return ApiCall("POST", f"{self.path}/{id}/trigger")

    @endpoint
    def runs(self, /, job_id: str | None = None, **filters: Any) -> ApiCall[Page[BackgroundJobRun]]:
        return ApiCall("GET", "/background-job-runs", params=_clean({"job_id": job_id, **filters}))


class NotebookRuns(Resource[ModeT, NotebookRun]):
    """Runs of notebooks (jobs' and agents'): ``list(job_id=, agent_id=, status=)``, ``get``, ``cancel``."""

    @endpoint
    def cancel(self, id: str) -> ApiCall[NotebookRun]:
        """Stop a queued or running run (its kernel is shut down); replies with the ended run."""
        return ApiCall("POST", f"{self.path}/{id}/cancel", json={})


class Workspaces(_RotatesSecret[ModeT, Workspace, Workspace]):
    pass


class ApiKeys(Resource[ModeT, ApiKey]):
    @endpoint
    def create(self, /, **fields: Any) -> ApiCall[NewApiKey]:
        """A new key: the reply is the only one that shows its secret (``key``)."""
        return ApiCall("POST", self.path, json=fields)


class States(Namespace[ModeT]):
    """Namespaced key-value memory: ``put`` / ``get`` / ``delete`` / ``list`` / ``iter``.

    ``if_match=<version>`` makes a write or delete conditional (``PreconditionFailed`` otherwise);
    ``only_new=True`` writes only if the state does not exist.
    """

    @staticmethod
    def _conditions(if_match: int | None, only_new: bool = False) -> dict[str, str] | None:
        headers = {}
        if if_match is not None:
            headers["If-Match"] = str(if_match)
        if only_new:
            headers["If-None-Match"] = "*"
        return headers or None

    @endpoint
    def put(self, namespace: str, key: str, value: Any, *, expires_at: str | None = None,
            if_match: int | None = None, only_new: bool = False) -> ApiCall[State]:
        body = {"value": value, **({"expires_at": expires_at} if expires_at is not None else {})}
        return ApiCall("PUT", f"{self.path}/{namespace}/{key}", json=body,
                       headers=self._conditions(if_match, only_new))

    @endpoint
    def get(self, namespace: str, key: str) -> ApiCall[State]:
        return ApiCall("GET", f"{self.path}/{namespace}/{key}")

    @endpoint
    def delete(self, namespace: str, key: str, *, if_match: int | None = None) -> ApiCall[State]:
        return ApiCall("DELETE", f"{self.path}/{namespace}/{key}", headers=self._conditions(if_match))

    @endpoint
    def list(self, /, namespace: str, **filters: Any) -> ApiCall[Page[State]]:
        """One page of the namespace (``prefix=`` on keys; ``limit``, ``trail``, ``order``)."""
        return ApiCall("GET", f"{self.path}/{namespace}", params=_clean(filters))

    @every_page
    def iter(self, /, namespace: str, **filters: Any) -> ApiCall[Page[State]]:
        return ApiCall("GET", f"{self.path}/{namespace}", params=_clean(filters))


class Webhooks(Resource[ModeT, Webhook]):
    @endpoint
    def invocations(self, /, webhook_id: str | None = None,
                    **filters: Any) -> ApiCall[Page[WebhookInvocation]]:
        """One page of the webhook's invocations and their outcomes."""
        return ApiCall("GET", "/webhook-invocations", params=_clean({"webhook_id": webhook_id, **filters}))


class AuditLog(Namespace[ModeT]):
    """Every decision, hash-chained (the Jupyter user only)."""

    @endpoint
    def list(self, /, since: str | None = None, until: str | None = None,
             workspace_id: str | None = None) -> ApiCall[Page[AuditRecord]]:
        """The records decided at or after ``since`` and before ``until``, oldest first (all in one reply)."""
        return ApiCall("GET", self.path, params=_clean({"since": since, "until": until,
                                                        "workspace_id": workspace_id}))

    @endpoint
    def verify(self) -> ApiCall[AuditVerification]:
        """Recompute the chain: ``{"ok", "records", "first_bad"}``."""
        return ApiCall("GET", f"{self.path}/verify")


class NotificationChannels(Resource[ModeT, NotificationChannel]):
    """The Jupyter user's (a kernel of the server's): API keys get 403."""

    @endpoint
    def test(self, id: str) -> ApiCall[ChannelTest]:
        """Send a test message now: ``{"delivered": bool, "error": str | None}``."""
        return ApiCall("POST", f"{self.path}/{id}/test", json={})


class Namespaces(Namespace[ModeT]):
    """What both clients are made of: one attribute per resource, and ``discovery()``.

    The client is the root namespace (path ``""``): its own endpoints are
    declared like any namespace's, so a new one is a method here.
    """

    def __init__(self) -> None:
        super().__init__(self, "")
        self.states: States[ModeT] = States(self, "/states")
        self.webhooks: Webhooks[ModeT] = Webhooks(self, "/webhooks")
        self.sinks: Resource[ModeT, Sink] = Resource(self, "/sinks")
        self.sink_items: SinkItems[ModeT] = SinkItems(self, "/sink-items")
        self.agents: Agents[ModeT] = Agents(self, "/agents")
        self.agent_configurations: AgentConfigurations[ModeT] = AgentConfigurations(self,
                                                                                    "/agent-configurations")
        self.agent_sessions: Resource[ModeT, AgentSession] = Resource(self, "/agent-sessions")
        self.input_requests: InputRequests[ModeT] = InputRequests(self, "/agent-session-input-requests")
        self.activities: Resource[ModeT, Activity] = Resource(self, "/agent-session-activities")
        self.background_jobs: BackgroundJobs[ModeT] = BackgroundJobs(self, "/background-jobs")
        self.notebook_runs: NotebookRuns[ModeT] = NotebookRuns(self, "/notebook-runs")
        self.execution_deliveries: Resource[ModeT, ExecutionDelivery] = Resource(self,
                                                                                 "/execution-deliveries")
        self.api_keys: ApiKeys[ModeT] = ApiKeys(self, "/api-keys")
        self.workspaces: Workspaces[ModeT] = Workspaces(self, "/workspaces")
        self.approval_policies: Resource[ModeT, ApprovalPolicy] = Resource(self, "/approval-policies")
        self.audit_log: AuditLog[ModeT] = AuditLog(self, "/audit-log")
        self.notification_channels: NotificationChannels[ModeT] = NotificationChannels(self,
                                                                                        "/notification-channels")
        self.notification_deliveries: Resource[ModeT, NotificationDelivery] = Resource(self,
                                                                                       "/notification-deliveries")

    @endpoint
    def discovery(self) -> ApiCall[DiscoveryReply]:
        """What this client's key can see and do."""
        return ApiCall("GET", "/discovery")
