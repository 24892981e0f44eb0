"""Notebook targets over HTTP: which paths are refused, who may set a target, and who may trigger one.

Nothing here starts a kernel (tests/test_notebook_runs.py runs notebooks for real): a job is created
disabled, and a key's trigger is checked by its reply alone.
"""

from __future__ import annotations

import os

import nbformat
import pytest


@pytest.fixture
def notebooks(jp_root_dir, tmp_path):
    """A notebook in the root, one in a sub-folder, a text file, and links leading out of the root."""
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]})])
    nbformat.write(book, jp_root_dir / "report.ipynb")
    (jp_root_dir / "reports").mkdir()
    nbformat.write(book, jp_root_dir / "reports" / "daily.ipynb")
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    outside = tmp_path / "outside"
    outside.mkdir()
    nbformat.write(book, outside / "secret.ipynb")
    os.symlink(outside / "secret.ipynb", jp_root_dir / "linked.ipynb")
    os.symlink(outside, jp_root_dir / "linked-folder")
    return jp_root_dir


def job_body(path: str, **notebook) -> dict:
    return {"name": "report", "cron": "0 6 * * *", "enabled": False, "notebook": {"path": path, **notebook}}


@pytest.mark.parametrize("path, says", [
    ("../outside/secret.ipynb", "'..'"),
    ("reports/../../outside/secret.ipynb", "'..'"),
    ("/etc/passwd.ipynb", "relative"),
    ("~/secret.ipynb", "relative"),
    ("linked.ipynb", "outside"),  # a symlink in the root to a notebook outside it
    ("linked-folder/secret.ipynb", "outside"),
    ("notes.txt", "not a notebook"),
    ("missing.ipynb", "no notebook file"),
    ("reports", "not a notebook"),
])
async def test_paths_outside_the_root_or_not_notebooks_are_400(api, notebooks, path, says):
    reply = await api("POST", "/v1/background-jobs", job_body(path))
    assert reply.status == 400 and "notebook.path" in reply.error and says in reply.error, reply.body
    agent = await api("POST", "/v1/agents", {"name": "nb", "execution_notebook": {"path": path}})
    assert agent.status == 400 and says in agent.error, agent.body


@pytest.mark.parametrize("parameters, says", [
    ({"x; import os": 1}, "not a Python identifier"),
    ({"class": 1}, "not a Python identifier"),
    ({"1x": 1}, "not a Python identifier"),
])
async def test_parameter_names_are_identifiers(api, notebooks, parameters, says):
    reply = await api("POST", "/v1/background-jobs", job_body("report.ipynb", parameters=parameters))
    assert reply.status == 400 and says in reply.error, reply.body


async def test_an_unknown_kernel_is_400(api, notebooks):
    reply = await api("POST", "/v1/background-jobs", job_body("report.ipynb", kernel_name="no-such-kernel"))
    assert reply.status == 400 and "no-such-kernel" in reply.error, reply.body


async def test_a_target_is_stored_with_its_defaults(api, notebooks):
    reply = await api("POST", "/v1/background-jobs", job_body("reports/daily.ipynb", parameters={"day": "mon"}))
    assert reply.status == 201, reply.body
    assert reply.body["notebook"] == {"path": "reports/daily.ipynb", "parameters": {"day": "mon"},
                                      "kernel_name": None, "timeout_seconds": 600}
    assert reply.body["url"] is None and reply.body["agent_id"] is None
    both = await api("POST", "/v1/background-jobs", {**job_body("report.ipynb"), "url": "http://127.0.0.1:9/x"})
    assert both.status == 400 and "exactly one target" in both.error
    agent = await api("POST", "/v1/agents", {"name": "nb", "execution_notebook": {"path": "report.ipynb"},
                                             "execution_endpoint": {"url": "http://127.0.0.1:9/x"}})
    assert agent.status == 400 and "not both" in agent.error


async def test_only_the_jupyter_user_sets_a_notebook_target_and_keys_trigger_it(api, make_key, notebooks):
    key = await make_key(scopes=["all:all"])
    refused = await api("POST", "/v1/background-jobs", job_body("report.ipynb"), key=key)
    assert refused.status == 403 and "Jupyter user" in refused.error, refused.body
    refused = await api("POST", "/v1/agents", {"name": "nb", "execution_notebook": {"path": "report.ipynb"}}, key=key)
    assert refused.status == 403, refused.body

    job = (await api("POST", "/v1/background-jobs", job_body("report.ipynb"))).body
    url_job = (await api("POST", "/v1/background-jobs", {"name": "u", "cron": "0 6 * * *", "enabled": False,
                                                          "url": "http://127.0.0.1:9/x"}, key=key)).body
    for target in (job["id"], url_job["id"]):  # pointing an existing job at another notebook: no
        moved = await api("PATCH", f"/v1/background-jobs/{target}", {"notebook": {"path": "reports/daily.ipynb"}},
                          key=key)
        assert moved.status == 403, moved.body
    agent = (await api("POST", "/v1/agents", {"name": "a"})).body
    moved = await api("PATCH", f"/v1/agents/{agent['id']}", {"execution_notebook": {"path": "report.ipynb"}},
                      key=key)
    assert moved.status == 403, moved.body

    # What the user set stays a key's to use and to change otherwise.
    renamed = await api("PATCH", f"/v1/background-jobs/{job['id']}", {"name": "renamed"}, key=key)
    assert renamed.status == 200 and renamed.body["notebook"]["path"] == "report.ipynb", renamed.body
    assert (await api("GET", f"/v1/background-jobs/{job['id']}")).body["notebook"]["path"] == "report.ipynb"
    reader = await make_key(scopes=["background_jobs:read"])
    assert (await api("GET", "/v1/notebook-runs", key=reader)).status == 200
    assert (await api("POST", "/v1/notebook-runs/unknown/cancel", {}, key=reader)).status == 403


async def test_a_patch_switches_a_job_to_a_notebook_and_back(api, notebooks):
    job = (await api("POST", "/v1/background-jobs", {"name": "u", "cron": "0 6 * * *", "enabled": False,
                                                      "url": "http://127.0.0.1:9/x"})).body
    switched = await api("PATCH", f"/v1/background-jobs/{job['id']}", {"notebook": {"path": "report.ipynb"}})
    assert switched.status == 200, switched.body
    assert switched.body["url"] is None and switched.body["method"] is None
    assert switched.body["notebook"]["path"] == "report.ipynb"
    back = await api("PATCH", f"/v1/background-jobs/{job['id']}", {"url": "http://127.0.0.1:9/y"})
    assert back.status == 200 and back.body["notebook"] is None and back.body["url"] == "http://127.0.0.1:9/y"


async def test_an_unknown_run_is_404_and_listings_filter(api, notebooks):
    assert (await api("GET", "/v1/notebook-runs/unknown")).status == 404
    assert (await api("POST", "/v1/notebook-runs/unknown/cancel", {})).status == 404
    listed = await api("GET", "/v1/notebook-runs", params={"status": "running"})
    assert listed.status == 200 and listed.body == {"items": [], "trail": None}
    assert (await api("GET", "/v1/notebook-runs", params={"status": "sleeping"})).status == 400


async def test_a_job_whose_notebook_is_gone_can_still_be_changed(api, notebooks):
    job = (await api("POST", "/v1/background-jobs", job_body("report.ipynb"))).body
    (notebooks / "report.ipynb").unlink()
    disabled = await api("PATCH", f"/v1/background-jobs/{job['id']}", {"enabled": False, "name": "orphan"})
    assert disabled.status == 200 and disabled.body["notebook"]["path"] == "report.ipynb", disabled.body
    moved = await api("PATCH", f"/v1/background-jobs/{job['id']}", {"notebook": {"path": "reports/daily.ipynb"}})
    assert moved.status == 200 and moved.body["notebook"]["path"] == "reports/daily.ipynb", moved.body
