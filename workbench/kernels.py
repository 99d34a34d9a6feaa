"""The kernel manager of a run: quiet in logs (cron mails, the journal) and private on the machine.

jupyter_client's defaults make every run print two lines that are not problems: ipykernel warns that the
kernel talks over TCP without encryption, and shutting the kernel down starts with an interrupt, which the
kernel logs as "KeyboardInterrupt caught in kernel". Here the kernel talks over Unix sockets in a private
folder of its own (mode 0700 in the temporary folder, not reachable by other users, so the warning is not just
silenced but answered), and a kernel that is shut down is not interrupted first: a shutdown request stops an
idle kernel, and one that does not stop is killed, as before. The app's kernels under `workbench serve` get the
same (``AppKernelManager``, set by workbench/app/server.py).
"""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time

from jupyter_client.manager import AsyncKernelManager


class _Quiet:
    """Unix sockets in a private folder of the kernel's own; no interrupt before a shutdown."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self._folder = None

    def write_connection_file(self, **kwargs) -> None:
        # The sockets, and the connection file unless the caller named one, in one folder in the temporary folder
        # (TMPDIR): shutting down removes it, and a run the batch kills leaves it in the run's TMPDIR, which the
        # batch removes (workbench/batch.py). Made here, when the kernel starts, not when the manager is made.
        if self._folder is None:
            self._folder = tempfile.mkdtemp(prefix="mmr-kernel-")
            self.ip = os.path.join(self._folder, "k")
            if not self.connection_file:
                self.connection_file = os.path.join(self._folder, "kernel.json")
        super().write_connection_file(**kwargs)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    cleanup_resources = _async_cleanup_resources  # the async managers' public name (it skips an override otherwise)

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # jupyter_client interrupts before every shutdown; the kernel logs it as an error
            return
        await super()._async_interrupt_kernel()


# A run's kernel keeps its input history in memory: nobody reads a batch kernel's history afterwards, and two runs at
# once would otherwise both write the user's history.sqlite (a commit per cell, "database is locked" under load).
KERNEL_ARGS = ["--HistoryManager.hist_file=:memory:"]


class QuietKernelManager(_Quiet, AsyncKernelManager):
    """The kernel of a papermill run (``workbench run``): forked from the run's kernel template when there is one
    (``prefork``), else started as a new interpreter."""

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        tpl = _take_template(kernel_cmd)
        if tpl is None:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        # what LocalProvisioner.launch_kernel does, with the template as the kernel's process
        prov = self.provisioner
        proc = tpl.launch(self.connection_file, str(kw.get("cwd") or os.getcwd()), dict(kw.get("env") or os.environ))
        prov.process, prov.pid, prov.pgid = proc, proc.pid, proc.pid  # the template is a session of its own
        prov.cwd = kw.get("cwd", os.getcwd())
        self._reconcile_connection_info(prov.connection_info)


# --- a warm kernel: forked from the run process before the run starts ------------------------------------------

# A kernel started as a new interpreter imports ipykernel, the workbench and its libraries again (2-3 s of CPU per run,
# measured in benchmarks/README.md). A batch's run process was itself forked from a fork server that imported them
# (workbench/warm.py); before it does anything else it forks once more: a template that waits, single-threaded and with
# nothing of the run in it yet, and becomes the run's kernel when the run starts one (the same kernel command,
# `python -m ipykernel_launcher -f <connection file>`, run in that copy). Not used for any other kernel command.
_TEMPLATE = None


class _Forked:
    """The part of ``subprocess.Popen`` jupyter_client's LocalProvisioner uses, for the forked kernel."""

    def __init__(self, pid: int):
        self.pid, self.returncode = pid, None
        self.stdin = self.stdout = self.stderr = None

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        import subprocess

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["ipykernel"], timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, sig):
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self):
        self.send_signal(signal.SIGTERM)

    def kill(self):
        self.send_signal(signal.SIGKILL)


class _Template:
    def __init__(self, pid: int, order_w: int, ready_r: int):
        self.pid, self.order_w, self.ready_r = pid, order_w, ready_r

    def launch(self, connection_file: str, cwd: str, env: dict) -> _Forked:
        import pickle

        os.read(self.ready_r, 1)  # its own session exists (so the provisioner's killpg never reaches the run)
        os.close(self.ready_r)
        data = pickle.dumps((connection_file, cwd, env))
        with os.fdopen(self.order_w, "wb") as fh:
            fh.write(data)
        return _Forked(self.pid)

    def discard(self) -> None:
        os.close(self.order_w)  # EOF: the template exits
        os.close(self.ready_r)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def prefork(close_fds=()) -> None:
    """Fork the kernel template (in a fresh run process, before anything of the run happened); ``close_fds``: fds
    of the run the kernel must not hold (the set's lock). Linux only; a failure leaves the new-interpreter kernel."""
    global _TEMPLATE
    import sys

    if _TEMPLATE is not None or not sys.platform.startswith("linux"):
        return
    order_r, order_w = os.pipe()
    ready_r, ready_w = os.pipe()
    script_dir = sys.path[0] if sys.path else None  # the run's own entry on sys.path (`python -m` puts its cwd there)
    pid = os.fork()
    if pid:
        os.close(order_r)
        os.close(ready_w)
        _TEMPLATE = _Template(pid, order_w, ready_r)
        import atexit

        atexit.register(_discard)
        return
    code = 1
    try:
        os.close(order_w)
        os.close(ready_r)
        for fd in close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        os.setsid()  # a session of its own, as jupyter_client starts a kernel (interrupts reach its group only)
        os.write(ready_w, b"r")
        os.close(ready_w)
        code = _template_main(order_r, script_dir)
    except BaseException:  # noqa: BLE001 - as a kernel that fails to start: its traceback in the run's log
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _template_main(order_r: int, script_dir) -> int:
    import pickle
    import sys

    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: dies with the run
    except (OSError, AttributeError):
        pass
    chunks = []
    while chunk := os.read(order_r, 1 << 16):
        chunks.append(chunk)
    os.close(order_r)
    if not chunks:
        return 0  # no kernel wanted
    connection_file, cwd, env = pickle.loads(b"".join(chunks))
    parent = os.getppid()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    os.environ["JPY_PARENT_PID"] = str(parent)  # as jupyter_client sets it: the kernel stops when the run is gone
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    # as `python -m ipykernel_launcher` in cwd would start: argv, and sys.path without the run's script folder
    import ipykernel_launcher

    sys.argv = [ipykernel_launcher.__file__, "-f", connection_file]
    if script_dir is not None and sys.path and sys.path[0] == script_dir:
        del sys.path[0]  # ipykernel_launcher drops its own (the cwd); IPython puts '' back
    # matplotlib reads MPLBACKEND when imported; the template imported it before ipykernel could set the inline backend
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].rcParams["backend"] = os.environ["MPLBACKEND"]
    if "pandas" in sys.modules:  # pandas chose at import, with no IPython around, "a terminal": 0 columns = fit it
        from pandas._config import config as pd_config

        key = "display.max_columns"
        if pd_config.get_option(key) == 0:  # what pandas registers in a kernel (config_init.is_terminal() False)
            pd_config._registered_options[key] = pd_config._registered_options[key]._replace(defval=20)
            pd_config.set_option(key, 20)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=["-f", connection_file, *KERNEL_ARGS])
    return 0


def _take_template(kernel_cmd):
    """The template, once, for the standard kernel command of this interpreter; else None."""
    global _TEMPLATE
    import sys

    tpl = _TEMPLATE
    if tpl is None:
        return None
    same = (kernel_cmd[5:] in ([], KERNEL_ARGS) and kernel_cmd[1:3] == ["-m", "ipykernel_launcher"] and kernel_cmd[3] == "-f"
            and os.path.realpath(kernel_cmd[0]) == os.path.realpath(sys.executable))
    if not same:
        return None
    _TEMPLATE = None
    return tpl


def _discard() -> None:
    global _TEMPLATE
    if _TEMPLATE is not None:
        tpl, _TEMPLATE = _TEMPLATE, None
        tpl.discard()


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
get_ipython().history_manager.reset(new_session=True)  # numbering from 1 again in the same history session printed
get_ipython().execution_count = 1                       # "ERROR! Session/line number was not unique" into the notebook
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
            # papermill writes the whole notebook (JSON with every output so far, validated) at the start and end of
            # every cell; with the maps inline that was ~1.5 s of a run's CPU. Between its first write and the final
            # one (``notebook_complete``, also after an error or an interrupt) it is written at most every
            # SAVE_EVERY seconds, so a run killed in a long cell still leaves the notebook as it was shortly before.
            nb_man.save = _Throttled(nb_man.save)
            try:
                return client.execute()
            finally:
                del nb_man.save  # the final write (notebook_complete) is papermill's own
                if client.kc is not None:
                    client.kc.stop_channels()
                    client.kc = None

    papermill_engines.register(SHARED_ENGINE, SharedKernelEngine)
    return SharedKernelEngine


SHARED_ENGINE = "mmr-shared-kernel"
SAVE_EVERY = 10.0  # seconds: papermill's writes of a notebook while it runs, at most this often (see _Throttled)


class _Throttled:
    """A notebook manager's ``save`` that writes only when SAVE_EVERY seconds have passed since the last write."""

    def __init__(self, save):
        self.save, self.last = save, time.monotonic()  # papermill has just written it (notebook_start)

    def __call__(self, **kwargs):
        if time.monotonic() - self.last >= SAVE_EVERY:
            self.save(**kwargs)
            self.last = time.monotonic()


class RunKernel:
    """The one kernel a run executes its notebooks in (``with RunKernel(name) as km: pm.execute_notebook(...,
    engine_name=SHARED_ENGINE, km=km)``). Without ``start`` the first notebook starts it, in papermill's
    working folder; ``start`` starts it earlier and imports the package in it, so that this happens on the
    other core while the run process computes the findings. Shut down (killed if it does not stop) on
    ``close`` or when the ``with`` block ends, also when a notebook failed."""

    # what every notebook's first cell imports (`import workbench as wb`, then wb.load_run and wb.report)
    # then the imported modules out of the garbage collector's sight (nothing of a notebook exists yet): the full
    # collections of IPython's %reset between notebooks walk the notebooks' objects only (see workbench/_preload.py)
    WARM_UP = "import workbench, workbench.findings, workbench.report\n__import__('gc').collect(); __import__('gc').freeze()"

    def __init__(self, kernel_name: str = "python3"):
        self.km = QuietKernelManager(kernel_name=kernel_name)
        self._kc = None

    def start(self, cwd: str, env: dict | None = None) -> None:
        """Start the kernel in ``cwd`` and let it import the package; returns without waiting for the import.
        ``env``: variables added to the kernel's environment."""
        from jupyter_core.utils import run_sync

        from jupyter_client.session import Session

        run_sync(self.km.start_kernel)(cwd=cwd, extra_arguments=KERNEL_ARGS,
                                       **({"env": {**os.environ, **env}} if env else {}))
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
