from jupyter_opensink.store import TableSpec

SPECS = [
    TableSpec("sinks", indexes=("workspace_id",), unique=("public_slug",)),
    TableSpec("items", indexes=("sink_id", "batch")),
]
