"""/v1/agents, /v1/agent-configurations, /v1/agent-sessions, input requests and activities."""

from __future__ import annotations

from typing import get_args

from ..errors import Invalid
from ..models.agents import (Activity, ActivityCreate, ActivitySource, ActivityType, Agent,
                             AgentConfiguration, AgentCreate, AgentWithSecret, AgentSession, AgentUpdate, ConfigurationCreate,
                             ExecutionDelivery, InputRequest, InputRequestCreate, RequestStatus, Resolve,
                             SessionCreate, SessionStatus, SessionUpdate)
from ..models.common import page_of
from .crud import create, listing, one, patch
from .call import Call
from .routing import Route
from .validation import Empty



def _required_arg(call: Call, name: str) -> str:
    value = call.arg(name)
    if not value:
        raise Invalid(f"{name} is required")
    return value


# -- agents -------------------------------------------------------------------
async def rotate_agent_secret(call: Call) -> dict:
    call.body(Empty)
    return await call.services.agents.rotate_secret(call.workspace_id, call.params["id"])


# -- configurations -----------------------------------------------------------
async def create_configuration(call: Call) -> dict:
    body = call.body(ConfigurationCreate)
    return await call.services.configurations.create(call.workspace_id, body.values(),
                                                     explicit_schema="schema" in body.changes())


async def configuration_variants(call: Call) -> dict:
    items = await call.services.configurations.variants(call.workspace_id, _required_arg(call, "agent_id"))
    return {"items": items, "trail": None}


async def active_configuration(call: Call) -> dict:
    return await call.services.configurations.active(call.workspace_id, call.params["agent_id"])


# -- sessions -----------------------------------------------------------------


# -- input requests -----------------------------------------------------------


async def resolve_input_request(call: Call) -> dict:
    return await call.services.input_requests.resolve(call.workspace_id, call.params["id"],
                                                      call.body(Resolve).response,
                                                      resolved_by=call.principal.label)


# -- execution deliveries -----------------------------------------------------


# -- activities ---------------------------------------------------------------
async def create_activity(call: Call) -> dict:
    return await call.services.activities.create(call.principal, call.body(ActivityCreate).values())


AGENTS, CONFIGS = "agents", "agent-configurations"
SESSIONS, REQUESTS, ACTIVITIES = "agent-sessions", "agent-session-input-requests", "agent-session-activities"
DELIVERIES = "execution-deliveries"

ROUTES = [
    Route("POST", "/agents", create("agents", AgentCreate), "agents:write",
          "Create an agent (and its default configuration); the reply shows its execution secret this once.",
          body=AgentCreate, status=201, tag=AGENTS, response=AgentWithSecret, secret_reply=True),
    Route("GET", "/agents", listing("agents"), "agents:read", "List agents.", tag=AGENTS, paged=True,
          response=Agent),
    Route("GET", "/agents/{id}", one("agents"), "agents:read", "Get an agent.", tag=AGENTS, response=Agent),
    Route("PATCH", "/agents/{id}", patch("agents", AgentUpdate), "agents:write",
          "Change an agent; config_id activates any of its configurations.", body=AgentUpdate, tag=AGENTS,
          response=Agent),
    Route("POST", "/agents/{id}/rotate-secret", rotate_agent_secret, "agents:write",
          "Replace the agent's execution secret; the reply shows the new one this once.", body=Empty,
          tag=AGENTS, response=AgentWithSecret, secret_reply=True),
    Route("DELETE", "/agents/{id}", one("agents", "delete"), "agents:write",
          "Delete an agent with its configurations, sessions, input requests and activities.", tag=AGENTS,
          response=Agent),

    Route("POST", "/agent-configurations", create_configuration, "agent_configurations:write",
          "Create a configuration version (active when in the active variant).", body=ConfigurationCreate,
          status=201, tag=CONFIGS, response=AgentConfiguration, errors=(409,)),
    Route("GET", "/agent-configurations", listing("configurations"), "agent_configurations:read",
          "List configurations (filters: agent_id, variant).", tag=CONFIGS, query=("agent_id", "variant"),
          paged=True, response=AgentConfiguration),
    Route("GET", "/agent-configurations/variants", configuration_variants, "agent_configurations:read",
          "The latest configuration of each variant of an agent (agent_id required).", tag=CONFIGS,
          query=("agent_id",), response=page_of(AgentConfiguration)),
    Route("GET", "/agent-configurations/agent/{agent_id}", active_configuration, "agent_configurations:read",
          "The agent's active configuration.", tag=CONFIGS, response=AgentConfiguration),
    Route("GET", "/agent-configurations/{id}", one("configurations"), "agent_configurations:read",
          "Get a configuration (configurations are immutable).", tag=CONFIGS, response=AgentConfiguration),

    Route("POST", "/agent-sessions", create("sessions", SessionCreate), "agent_sessions:write", "Start a session.",
          body=SessionCreate, status=201, tag=SESSIONS, response=AgentSession),
    Route("GET", "/agent-sessions", listing("sessions", choices={"status": get_args(SessionStatus)}),
          "agent_sessions:read", "List sessions (filters: agent_id, status).", tag=SESSIONS,
          query=("agent_id", "status"), paged=True, response=AgentSession),
    Route("GET", "/agent-sessions/{id}", one("sessions"), "agent_sessions:read", "Get a session.", tag=SESSIONS,
          response=AgentSession),
    Route("PATCH", "/agent-sessions/{id}", patch("sessions", SessionUpdate), "agent_sessions:write",
          "Change a session's status, state, metadata or error_message.", body=SessionUpdate, tag=SESSIONS,
          response=AgentSession),
    Route("DELETE", "/agent-sessions/{id}", one("sessions", "delete"), "agent_sessions:write",
          "Delete a session with its input requests and activities.", tag=SESSIONS, response=AgentSession),

    Route("POST", "/agent-session-input-requests", create("input_requests", InputRequestCreate),
          "agent_session_input_requests:write", "Ask a human: the session waits for input.",
          body=InputRequestCreate, status=201, tag=REQUESTS, response=InputRequest),
    Route("GET", "/agent-session-input-requests",
          listing("input_requests", choices={"status": get_args(RequestStatus)}),
          "agent_session_input_requests:read", "List input requests (filters: session_id, agent_id, status).",
          tag=REQUESTS, query=("session_id", "agent_id", "status"), paged=True, response=InputRequest),
    Route("GET", "/agent-session-input-requests/{id}", one("input_requests"), "agent_session_input_requests:read",
          "Get an input request.", tag=REQUESTS, response=InputRequest),
    Route("POST", "/agent-session-input-requests/{id}/resolve", resolve_input_request,
          "agent_session_input_requests:write",
          "Answer a pending request; the session resumes and the agent's endpoint is called.", body=Resolve,
          tag=REQUESTS, response=InputRequest, errors=(409,)),

    Route("GET", "/execution-deliveries", listing("deliveries"), "agents:read",
          "Every call made to agents' execution endpoints (filters: session_id, agent_id).", tag=DELIVERIES,
          query=("session_id", "agent_id"), paged=True, response=ExecutionDelivery),
    Route("GET", "/execution-deliveries/{id}", one("deliveries"), "agents:read", "Get one delivery record.",
          tag=DELIVERIES, response=ExecutionDelivery),

    Route("POST", "/agent-session-activities", create_activity, "agent_session_activities:write",
          "Log an activity (message, sink_item_created or state_updated).", body=ActivityCreate, status=201,
          tag=ACTIVITIES, response=Activity),
    Route("GET", "/agent-session-activities",
          listing("activities", choices={"type": get_args(ActivityType), "source": get_args(ActivitySource)}),
          "agent_session_activities:read",
          "List activities (filters: session_id, agent_id, type, source); $order=asc for a timeline.",
          tag=ACTIVITIES, query=("session_id", "agent_id", "type", "source"), paged=True, response=Activity),
    Route("GET", "/agent-session-activities/{id}", one("activities"), "agent_session_activities:read",
          "Get an activity.", tag=ACTIVITIES, response=Activity),
]
