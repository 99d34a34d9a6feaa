"""The kernel manager of a run: quiet in logs (cron mails, the journal) and private on the machine.

jupyter_client's defaults make every run print two lines that are not problems: ipykernel warns that the
kernel talks over TCP without encryption, and shutting the kernel down starts with an interrupt, which the
kernel logs as "KeyboardInterrupt caught in kernel". Here the kernel talks over Unix sockets in the user's
private Jupyter runtime folder (not reachable by other users, so the warning is not just silenced but
answered), and a kernel that is shut down is not interrupted first: a shutdown request stops an idle kernel,
and one that does not stop is killed, as before. The app's kernels under `workbench serve` get the same
(``AppKernelManager``, set by workbench/app/server.py).
"""
from __future__ import annotations

import os
import secrets

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir


class _Quiet:
    """Unix sockets in the private runtime folder; no interrupt before a shutdown."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        self.transport = "ipc"
        self.ip = os.path.join(runtime, f"mmr-{secrets.token_hex(6)}")

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # jupyter_client interrupts before every shutdown; the kernel logs it as an error
            return
        await super()._async_interrupt_kernel()


class QuietKernelManager(_Quiet, AsyncKernelManager):
    """The kernel of a papermill run (``workbench run``)."""


def __getattr__(name: str):
    # The app's kernels (`workbench serve`, --MappingKernelManager.kernel_manager_class): Jupyter Server requires
    # its own kernel manager class there. Made on first use, so a papermill run does not import the server.
    if name != "AppKernelManager":
        raise AttributeError(name)
    from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

    cls = type("AppKernelManager", (_Quiet, ServerKernelManager),
               {"__module__": __name__, "__doc__": "A viewer's kernel of the Voila app, as quiet as a run's."})
    globals()[name] = cls
    return cls


# --- one kernel for all notebooks of a run ---------------------------------------------------------------------

# Run silently before each notebook after the first: the notebook starts with an empty namespace, no open
# figures, the warning filters of a new kernel and numbering from 1, exactly as in a kernel of its own. Only
# the imported modules stay (that is the point: `import workbench` and its libraries once per run, not five
# times); the package keeps no state between calls that a notebook could see.
_FRESH_NAMESPACE = """
import sys as _s, warnings as _w
if "matplotlib.pyplot" in _s.modules:
    _s.modules["matplotlib.pyplot"].close("all")
_w.filters[:] = _s.modules["__mmr_kernel_start__"].filters
getattr(_w, "_filters_mutated", lambda: None)()
del _s, _w
get_ipython().run_line_magic("reset", "-f")
get_ipython().execution_count = 1
"""
_REMEMBER_START = """
import sys as _s, types as _t, warnings as _w
_s.modules["__mmr_kernel_start__"] = _t.SimpleNamespace(filters=list(_w.filters))
del _s, _t, _w
"""


def _engine():
    """The papermill engine 'mmr-shared-kernel' (registered on first use): papermill's own nbclient engine,
    but on the kernel the run passes in (``km=``), with a fresh namespace before every notebook after the
    first, and the notebook's kernel client closed afterwards (nbclient leaves it open when it does not own
    the kernel)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class _Client(PapermillNotebookClient):
        def papermill_execute_cells(self):
            first = not getattr(self.km, "_mmr_used", False)
            reply = self.wait_for_reply(self.kc.execute(_REMEMBER_START if first else _FRESH_NAMESPACE,
                                                        silent=True, store_history=False))
            if reply is None or reply["content"].get("status") != "ok":
                raise RuntimeError("de kernel kon niet schoon beginnen aan het volgende notebook")
            self.km._mmr_used = True
            super().papermill_execute_cells()

    class SharedKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                     stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(kwargs, timeout=execution_timeout, startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output,
                                 stdout_file=stdout_file, stderr_file=stderr_file)
            client = _Client(nb_man, **final)
            try:
                return client.execute()
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
                    client.kc = None

    papermill_engines.register(SHARED_ENGINE, SharedKernelEngine)
    return SharedKernelEngine


SHARED_ENGINE = "mmr-shared-kernel"


class RunKernel:
    """The one kernel a run executes its notebooks in (``with RunKernel(name) as km: pm.execute_notebook(...,
    engine_name=SHARED_ENGINE, km=km)``). Without ``start`` the first notebook starts it, in papermill's
    working folder; ``start`` starts it earlier and imports the package in it, so that this happens on the
    other core while the run process computes the findings. Shut down (killed if it does not stop) on
    ``close`` or when the ``with`` block ends, also when a notebook failed."""

    # what every notebook's first cell imports (`import workbench as wb`, then wb.load_run and wb.report)
    WARM_UP = "import workbench, workbench.findings, workbench.report"

    def __init__(self, kernel_name: str = "python3"):
        self.km = QuietKernelManager(kernel_name=kernel_name)
        self._kc = None

    def start(self, cwd: str, env: dict | None = None) -> None:
        """Start the kernel in ``cwd`` and let it import the package; returns without waiting for the import.
        ``env``: variables added to the kernel's environment."""
        from jupyter_core.utils import run_sync

        from jupyter_client.session import Session

        run_sync(self.km.start_kernel)(cwd=cwd, **({"env": {**os.environ, **env}} if env else {}))
        # A session of its own: a client's sockets take the session id as their zmq identity, and the kernel's
        # ROUTER drops a second connection with an identity in use, so the notebooks' client (which gets the
        # manager's session) would wait for replies that never come ("Kernel didn't respond").
        own = Session(key=self.km.session.key, signature_scheme=self.km.session.signature_scheme)
        self._kc = self.km.client(session=own)
        self._kc.start_channels()
        self._kc.execute(self.WARM_UP, silent=True, store_history=False)

    def __enter__(self) -> QuietKernelManager:
        from papermill.engines import papermill_engines

        if SHARED_ENGINE not in papermill_engines._engines:
            _engine()
        return self.km

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        from jupyter_core.utils import run_sync

        km = self.km
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        try:
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=False)
        except Exception:  # noqa: BLE001 - a kernel that will not stop is killed below
            if km.has_kernel:
                run_sync(km.shutdown_kernel)(now=True)
        finally:
            run_sync(km.cleanup_resources)()
