"""/v1/agents, /v1/agent-configurations, /v1/agent-sessions, input requests and activities."""

from __future__ import annotations

from ..models.agents import (Activity, ActivityCreate, ActivityFilters, Agent, AgentConfiguration,
                             AgentCreate, AgentSession, AgentUpdate, AgentWithSecret, ConfigurationCreate,
                             ConfigurationFilters, DeliveryFilters, ExecutionDelivery, InputRequest,
                             InputRequestCreate, RequestFilters, Resolve, SessionCreate, SessionFilters,
                             SessionUpdate, VariantsQuery)
from ..models.common import page_of
from .call import Call
from .crud import create, listing, one, patch
from .notebooks import notebook_guarded
from .routing import Json, Page, Route, Secret
from .validation import Empty


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
    items = await call.services.configurations.variants(call.workspace_id, call.query(VariantsQuery).agent_id)
    return {"items": items, "trail": None}


async def active_configuration(call: Call) -> dict:
    return await call.services.configurations.active(call.workspace_id, call.params["agent_id"])


# -- sessions -----------------------------------------------------------------


# -- input requests -----------------------------------------------------------


async def resolve_input_request(call: Call) -> dict:
    body = call.body(Resolve)
    if body.remember is not None:  # it creates an approval policy: an agent must not approve itself
        call.principal.require_user("remember an approval (it creates an approval policy)")
    return await call.services.input_requests.resolve(call.workspace_id, call.params["id"], body.response,
                                                      decision=body.decision, comment=body.comment,
                                                      resolved_by=call.principal.label,
                                                      resolved_by_name=call.principal.readable,
                                                      remember_seconds=body.remember.seconds if body.remember
                                                      else None)


# -- execution deliveries -----------------------------------------------------


# -- activities ---------------------------------------------------------------
async def create_activity(call: Call) -> dict:
    return await call.services.activities.create(call.principal, call.body(ActivityCreate).values())


AGENTS, CONFIGS = "agents", "agent-configurations"
SESSIONS, REQUESTS, ACTIVITIES = "agent-sessions", "agent-session-input-requests", "agent-session-activities"
DELIVERIES = "execution-deliveries"

ROUTES = [
    Route("POST", "/agents", notebook_guarded("agents.create", AgentCreate, "execution_notebook", patch=False), "agents:write",
          "Create an agent (and its default configuration); the reply shows its execution secret this once.",
          Secret(AgentWithSecret, 201), body=AgentCreate, tag=AGENTS),
    Route("GET", "/agents", listing(lambda s: s.agents.list), "agents:read", "List agents.", Page(Agent),
          tag=AGENTS),
    Route("GET", "/agents/{id}", one(lambda s: s.agents.get), "agents:read", "Get an agent.", Json(Agent),
          tag=AGENTS),
    Route("PATCH", "/agents/{id}", notebook_guarded("agents.update", AgentUpdate, "execution_notebook", patch=True), "agents:write",
          "Change an agent; config_id activates any of its configurations.", Json(Agent), body=AgentUpdate,
          tag=AGENTS),
    Route("POST", "/agents/{id}/rotate-secret", rotate_agent_secret, "agents:write",
          "Replace the agent's execution secret; the reply shows the new one this once.",
          Secret(AgentWithSecret), body=Empty, tag=AGENTS),
    Route("DELETE", "/agents/{id}", one(lambda s: s.agents.delete), "agents:write",
          "Delete an agent with its configurations, sessions, input requests and activities.", Json(Agent),
          tag=AGENTS),

    Route("POST", "/agent-configurations", create_configuration, "agent_configurations:write",
          "Create a configuration version (active when in the active variant).",
          Json(AgentConfiguration, 201), body=ConfigurationCreate, tag=CONFIGS, errors=(409,)),
    Route("GET", "/agent-configurations", listing(lambda s: s.configurations.list),
          "agent_configurations:read", "List configurations (filters: agent_id, variant).",
          Page(AgentConfiguration), tag=CONFIGS, query=ConfigurationFilters),
    Route("GET", "/agent-configurations/variants", configuration_variants, "agent_configurations:read",
          "The latest configuration of each variant of an agent (agent_id required).",
          Json(page_of(AgentConfiguration)), tag=CONFIGS, query=VariantsQuery),
    Route("GET", "/agent-configurations/agent/{agent_id}", active_configuration, "agent_configurations:read",
          "The agent's active configuration.", Json(AgentConfiguration), tag=CONFIGS),
    Route("GET", "/agent-configurations/{id}", one(lambda s: s.configurations.get),
          "agent_configurations:read", "Get a configuration (configurations are immutable).",
          Json(AgentConfiguration), tag=CONFIGS),

    Route("POST", "/agent-sessions", create(lambda s: s.sessions.create, SessionCreate),
          "agent_sessions:write", "Start a session.", Json(AgentSession, 201), body=SessionCreate,
          tag=SESSIONS),
    Route("GET", "/agent-sessions", listing(lambda s: s.sessions.list), "agent_sessions:read",
          "List sessions (filters: agent_id, status).", Page(AgentSession), tag=SESSIONS,
          query=SessionFilters),
    Route("GET", "/agent-sessions/{id}", one(lambda s: s.sessions.get), "agent_sessions:read",
          "Get a session.", Json(AgentSession), tag=SESSIONS),
    Route("PATCH", "/agent-sessions/{id}", patch(lambda s: s.sessions.update, SessionUpdate),
          "agent_sessions:write", "Change a session's status, state, metadata or error_message.",
          Json(AgentSession), body=SessionUpdate, tag=SESSIONS),
    Route("DELETE", "/agent-sessions/{id}", one(lambda s: s.sessions.delete), "agent_sessions:write",
          "Delete a session with its input requests and activities.", Json(AgentSession), tag=SESSIONS),

    Route("POST", "/agent-session-input-requests",
          create(lambda s: s.input_requests.create, InputRequestCreate), "agent_session_input_requests:write",
          "Ask a human: the session waits for input.", Json(InputRequest, 201), body=InputRequestCreate,
          tag=REQUESTS),
    Route("GET", "/agent-session-input-requests", listing(lambda s: s.input_requests.list),
          "agent_session_input_requests:read", "List input requests (filters: session_id, agent_id, status).",
          Page(InputRequest), tag=REQUESTS, query=RequestFilters),
    Route("GET", "/agent-session-input-requests/{id}", one(lambda s: s.input_requests.get),
          "agent_session_input_requests:read", "Get an input request.", Json(InputRequest), tag=REQUESTS),
    Route("POST", "/agent-session-input-requests/{id}/resolve", resolve_input_request,
          "agent_session_input_requests:write",
          "Answer a pending request; the session resumes and the agent's endpoint is called.",
          Json(InputRequest), body=Resolve, tag=REQUESTS, errors=(409,)),

    Route("GET", "/execution-deliveries", listing(lambda s: s.deliveries.list), "agents:read",
          "Every call made to agents' execution endpoints (filters: session_id, agent_id).",
          Page(ExecutionDelivery), tag=DELIVERIES, query=DeliveryFilters),
    Route("GET", "/execution-deliveries/{id}", one(lambda s: s.deliveries.get), "agents:read",
          "Get one delivery record.", Json(ExecutionDelivery), tag=DELIVERIES),

    Route("POST", "/agent-session-activities", create_activity, "agent_session_activities:write",
          "Log an activity (message, sink_item_created or state_updated).", Json(Activity, 201),
          body=ActivityCreate, tag=ACTIVITIES),
    Route("GET", "/agent-session-activities", listing(lambda s: s.activities.list),
          "agent_session_activities:read",
          "List activities (filters: session_id, agent_id, type, source); $order=asc for a timeline.",
          Page(Activity), tag=ACTIVITIES, query=ActivityFilters),
    Route("GET", "/agent-session-activities/{id}", one(lambda s: s.activities.get),
          "agent_session_activities:read", "Get an activity.", Json(Activity), tag=ACTIVITIES),
]
