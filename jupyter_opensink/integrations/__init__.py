"""Human approvals of agent frameworks answered through this server, one module per framework.

Each module needs its framework (an optional extra: ``pip install "jupyter_opensink[langgraph]"``,
``[openai-agents]``, ``[pydantic-ai]``) and imports it itself; importing this package imports none.
Like the client, an adapter only speaks HTTP to the server.
"""
