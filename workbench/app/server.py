"""`workbench serve`: Voila on notebooks/app.ipynb with safe settings.

Served: the one app notebook (no tree, no file browser, no code cells, no tracebacks). Voila's own
defaults are kept: its kernel websocket passes only widget messages (comm_*, kernel_info, shutdown), so
a viewer cannot send code to the kernel (tests/test_app_browser.py checks this), and /voila/files serves
only images from the notebook folder. Nothing is opened up: no extra server extensions, no loosened
tornado settings, localhost by default.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import paths
from ..errors import WorkbenchError
from .data import ENV_OUTPUTS, ENV_SET


VOILA_SERVER = Path(__file__).with_name("voila_server.py")
# Crowd settings (README, "Geheugen en aantal kijkers"); environment variables so a service file can set them.
ENV_MAX_VIEWERS, ENV_CULL_SECONDS = "MMR_APP_MAX_VIEWERS", "MMR_APP_CULL_SECONDS"
POOL_SIZE = 2


def _env_int(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise WorkbenchError(f"{name}={raw!r} is geen geheel getal van minstens {minimum}", where=name,
                             hint=f"zet {name} op bijv. {default}, of haal de variabele weg")
    return value


def voila_command(host: str = "127.0.0.1", port: int = 8866, notebook: Path | None = None) -> list[str]:
    max_viewers = _env_int(ENV_MAX_VIEWERS, 20, 1)
    cull = _env_int(ENV_CULL_SECONDS, 120, 10)
    return [sys.executable, str(VOILA_SERVER), str(notebook or paths.app_notebook()), "--no-browser",
            f"--port={port}", "--Voila.port_retries=0", f"--Voila.ip={host}", "--show_tracebacks=False", "--strip_sources=True",
            "--theme=light", "--template=mmr",  # Voila's lab template without CDN links (workbench/app/jupyter)
            # A kernel with the app already rendered waits for the next viewer: first paint without start-up.
            "--preheat_kernel=True", f"--pool_size={POOL_SIZE}",
            f"--WorkbenchVoila.max_viewers={max_viewers}", f"--WorkbenchVoila.max_starting={os.cpu_count() or 2}",
            # Safety net for pages whose shutdown never arrived: no connection and idle for `cull` seconds.
            f"--MappingKernelManager.cull_idle_timeout={cull}",
            f"--MappingKernelManager.cull_interval={max(5, min(60, cull // 4))}",
            "--MappingKernelManager.cull_connected=False",
            # Kernels on Unix sockets in a private folder of their own, as for runs (workbench/kernels.py): no TCP.
            "--MappingKernelManager.kernel_manager_class=workbench.kernels.AppKernelManager"]


def serve_env(outputs: str | Path, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env[ENV_OUTPUTS] = str(paths.in_project(outputs).resolve())
    env[ENV_SET] = name
    # The kernel starts in the notebook's folder: it finds the project (stories) through this, not its cwd.
    env[paths.ENV_PROJECT] = str(paths.project_dir())
    # The kernel imports the same workbench as this process, also when that is a checkout on PYTHONPATH.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(paths.PACKAGE.parent), env.get("PYTHONPATH", "")) if p)
    return env


def warm_web_geometry(outputs: str | Path, name: str) -> None:
    """Make the web geometry of every level of the published run before the app starts, so no viewer waits for
    it on the first switch to a level (all buurten of the country take about a minute, once per run)."""
    from .data import NoPublishedRun, PublishedRun

    try:
        run = PublishedRun.load(paths.in_project(outputs), name)
    except NoPublishedRun:
        return
    for level in run.levels:
        if run.web_cached(level):  # made by an earlier start or viewer: nothing to read here, the kernels read it
            continue
        print(f"Kaartgeometrie van niveau '{level}' wordt eenmalig voor deze run voorbereid ...", file=sys.stderr)
        run.geometry(level)  # makes and stores the geometry and its TopoJSON (maps.web_level)


def serve(host: str = "127.0.0.1", port: int = 8866, outputs: str | Path = "outputs", name: str = "demo") -> int:
    """Run Voila in the foreground (this process becomes Voila) until interrupted.

    ``outputs`` is relative to the project folder (workbench.paths), as for ``workbench run``."""
    notebook = paths.app_notebook()
    if not notebook.exists():
        raise WorkbenchError("het app-notebook ontbreekt", where=str(notebook),
                             hint="maak het opnieuw met: python tools/make_notebooks.py")
    if not (paths.in_project(outputs) / name / "latest").exists():
        print(f"Let op: nog geen geslaagde run van '{name}' in {outputs}; de app vraagt eerst om "
              f"`workbench run parameters/{name}.yaml`.", file=sys.stderr)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Let op: de app luistert op {host} en is dan vanaf het netwerk bereikbaar. Zet er een proxy met "
              "inlog voor (zie README, 'De app publiceren').", file=sys.stderr)
    print(f"De app start op http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/ "
          "(stoppen met Ctrl+C); bezoekers zien 'De app wordt gestart' tot hier 'De app is klaar' staat.",
          file=sys.stderr)
    warm_web_geometry(outputs, name)
    cmd = voila_command(host, port, notebook)
    # Replace this process by Voila: a service manager's stop signal then reaches Voila itself.
    os.execve(cmd[0], cmd, serve_env(outputs, name))
