"""Warm run processes for a local batch: `workbench run` forked from a process that imported the package once.

A batch used to start each run as ``python -m workbench run``: a new interpreter that imports the workbench and
its libraries (pandas, scipy, statsmodels, HiGHS, matplotlib...) every time, about 1.5-2 s of CPU per set before
any work. Here one fork server (``multiprocessing``'s "forkserver": a fresh interpreter, started once per batch,
that only imports ``PRELOAD`` and never runs anything itself) forks a child per run. The child is the run
process as before: its own session (the batch kills its whole tree on a time-out), the set's lock descriptor
passed on, its output in the attempt's log, argv and environment as the command line would have had them, the
same ``workbench.cli.main``, and its exit code. Each run still starts its own kernel (a new process: one run,
one kernel). What a child shares with the others is the imported code only, as a copy taken before any run:
no run state crosses from one set to the next.

Not used where ``multiprocessing`` may not start children (a daemonic process, e.g. a Dask worker started with
Dask's default ``distributed.worker.daemon: True``): there the batch starts ``python -m workbench run`` as before
(``available``). ``--cluster local`` starts its workers non-daemonic, so each worker has a fork server of its own.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
from multiprocessing import reduction

# imported once by the fork server: what every run imports anyway (the rest a run imports itself)
PRELOAD = ["workbench._preload"]
_context = None


def available() -> bool:
    """Whether warm runs can be started from this process (not inside a daemonic process; Linux fork)."""
    return sys.platform.startswith("linux") and not mp.current_process().daemon \
        and os.environ.get("MMR_BATCH_WARM", "1") != "0"


def _ctx():
    global _context
    if _context is None:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _context = ctx
    return _context


def shutdown() -> None:
    """Stop the fork server and wait for it: no process left behind, and the CPU time of the runs it forked counts
    for the batch (``RUSAGE_CHILDREN``), as it did with a new interpreter per run."""
    global _context
    if _context is None:
        return
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)  # CPython's own (used by its tests); absent: it exits with us
    if stop is not None:
        stop()
    _context = None


class _PassFd:
    """A file descriptor handed to the child (the set's lock: held while any process of the run still writes)."""

    def __init__(self, fd: int):
        self.fd = fd

    def __reduce__(self):
        return _received_fd, (reduction.DupFd(self.fd),)


def _received_fd(dup) -> int:
    return dup.detach()


def _child(argv: list[str], log: str, lock_fd: int, env: dict, cwd: str) -> None:
    """The run process: what ``python -m workbench run ...`` with stdout/stderr to ``log`` would do."""
    os.setsid()  # its own session and process group, as start_new_session=True: kill_tree reaches all of it
    try:  # SIGTERM when the fork server (this process's parent) dies, as the command-line run gets when the batch dies
        import ctypes

        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(1)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    import io

    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  line_buffering=True, write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  line_buffering=True, write_through=True)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None  # the fork server's choice is cached; the run's TMPDIR (the batch gives each its own) counts
    os.chdir(cwd)
    sys.argv = [sys.executable, *argv]  # runpy puts the module's path in front, as `python -m` does
    if argv[:1] == ["run"]:  # the run's kernel: forked now, warm and with nothing of the run in it (kernels.prefork)
        from workbench.kernels import prefork

        prefork(close_fds=(lock_fd,))
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as a new interpreter: the run installs its own handlers
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import atexit
    import runpy

    try:  # exactly `python -m workbench` (sys.argv set above); exits through SystemExit with the run's code
        runpy.run_module("workbench", run_name="__main__", alter_sys=True)
        rc = 0
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # as the interpreter would: the traceback in the log, exit code 1
        import traceback

        traceback.print_exc()
        rc = 1
    atexit._run_exitfuncs()  # what the interpreter does at exit (e.g. jupyter_client's clean-up)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc if isinstance(rc, int) else 1)


class WarmProcess:
    """The part of ``subprocess.Popen`` the batch uses (pid, poll, wait, returncode) for a forked run."""

    def __init__(self, argv: list[str], log, lock_fd: int, env: dict, cwd: str | None = None):
        self.args = argv
        self._p = _ctx().Process(target=_child, args=(list(argv), str(log), _PassFd(lock_fd), dict(env),
                                                       cwd or os.getcwd()), daemon=False)
        self._p.start()
        self.pid = self._p.pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            code = self._p.exitcode
            if code is not None:
                self.returncode = code
                self._p.join(0)
        return self.returncode

    def wait(self, timeout: float | None = None):
        if self.returncode is None:
            self._p.join(timeout)
            if self.poll() is None:
                raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode
