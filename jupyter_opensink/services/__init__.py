"""Domain rules, one module per resource. Nothing here knows about HTTP or tornado."""

from __future__ import annotations

from ..runtime.events import EventBus
from ..runtime.notifier import Notifier
from ..runtime.outbound import Outbound
from ..store import Store, TableSpec
from . import (agents, audit, deliveries, idempotency, jobs, keys, links, notebook_runs, policies, request_log,
               sessions, sinks, states, webhooks, workspaces)
from . import notifications
from .agents import Agents, Configurations
from .asking import Asking
from .audit import AuditLog
from .deliveries import ExecutionDeliveries
from .discovery import Discovery
from .idempotency import IdempotencyKeys
from .jobs import BackgroundJobs
from .keys import ApiKeys
from .links import ApprovalLinks
from .notebook_agents import NotebookAgents
from .notebook_runs import NotebookRuns
from .policies import ApprovalPolicies
from .notifications import Notifications
from .sessions import Activities, InputRequests, Sessions
from .request_log import RequestLog
from .sinks import SinkItems, Sinks
from .states import States
from .webhooks import Webhooks
from .workspaces import Workspaces

TABLES: list[TableSpec] = [*workspaces.TABLES, *keys.TABLES, *sinks.TABLES, *agents.TABLES, *sessions.TABLES,
                           *links.TABLES, *deliveries.TABLES, *jobs.TABLES, *idempotency.TABLES,
                           *states.TABLES, *request_log.TABLES, *webhooks.TABLES, *policies.TABLES, *audit.TABLES,
                           *notebook_runs.TABLES, *notifications.TABLES]


class Services:
    """Every service, built once per server over one store."""

    def __init__(self, store: Store, events: EventBus, outbound: Outbound, notifier: Notifier | None = None):
        self.store = store
        self.events = events
        self.workspaces = Workspaces(store)
        self.api_keys = ApiKeys(store, self.workspaces, events)
        self.sinks = Sinks(store, events)
        self.sink_items = SinkItems(store, self.sinks, events)
        self.agents = Agents(store, events)
        self.configurations = Configurations(store, self.agents, events)
        self.sessions = Sessions(store, self.agents, events)
        self.activities = Activities(store, self.sessions, events)
        self.approval_policies = ApprovalPolicies(store, self.agents, events)
        self.audit_log = AuditLog(store)
        self.input_requests = InputRequests(store, self.sessions, events, self.approval_policies, self.audit_log)
        self.asking = Asking(self.agents, self.sessions, self.input_requests)
        self.approval_links = ApprovalLinks(store, self.input_requests, self.agents)
        self.notebook_agents = NotebookAgents(store, self.agents, self.sessions)
        self.notebook_runs = NotebookRuns(store, self.agents, self.sessions, events)
        self.agents.check_notebook = self.notebook_runs.check_target
        self.deliveries = ExecutionDeliveries(store, outbound, self.workspaces, self.sessions, events,
                                              self.notebook_agents, self.notebook_runs)
        self.jobs = BackgroundJobs(store, outbound, self.agents, self.deliveries, events, self.notebook_runs)
        self.idempotency = IdempotencyKeys(store)
        self.states = States(store, events)
        self.discovery = Discovery(store, self.workspaces)
        self.request_log = RequestLog(store)
        self.webhooks = Webhooks(store, self.sinks, self.sink_items, self.agents, self.deliveries, events,
                                 self.notebook_runs)
        notifier = notifier or Notifier(timeout=outbound.timeout, permitted=outbound.permitted)
        self.notifications = Notifications(store, notifier, events, self.agents, self.approval_links)

    async def purge_expired(self) -> int:
        """Give back the storage of everything expired (states, webhook de-duplication values and
        remembered webhook-ids); each is ignored once expired anyway. Returns how many rows went."""
        return (await self.states.purge_expired() + await self.webhooks.purge_expired()
                + await self.notifications.purge_expired())

    async def start(self) -> None:
        await self.workspaces.default_id()

    async def stop(self) -> None:
        self.notifications.stop()
        await self.notifications.notifier.close()
        await self.jobs.drain()
        await self.api_keys.drain()
