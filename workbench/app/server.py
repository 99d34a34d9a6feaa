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


def voila_command(host: str = "127.0.0.1", port: int = 8866, notebook: Path | None = None) -> list[str]:
    return [sys.executable, "-m", "voila", str(notebook or paths.app_notebook()), "--no-browser", f"--port={port}",
            f"--Voila.ip={host}",
            "--show_tracebacks=False", "--strip_sources=True", "--theme=light",
            # A kernel with the app already rendered waits for the next viewer: first paint without start-up.
            "--preheat_kernel=True", "--pool_size=2"]


def serve_env(outputs: str | Path, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env[ENV_OUTPUTS] = str(paths.in_project(outputs).resolve())
    env[ENV_SET] = name
    # The kernel starts in the notebook's folder: it finds the project (stories) through this, not its cwd.
    env[paths.ENV_PROJECT] = str(paths.project_dir())
    # The kernel imports the same workbench as this process, also when that is a checkout on PYTHONPATH.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(paths.PACKAGE.parent), env.get("PYTHONPATH", "")) if p)
    return env


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
    print(f"De app draait op http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/ "
          "(stoppen met Ctrl+C)", file=sys.stderr)
    cmd = voila_command(host, port, notebook)
    # Replace this process by Voila: a service manager's stop signal then reaches Voila itself.
    os.execve(cmd[0], cmd, serve_env(outputs, name))
