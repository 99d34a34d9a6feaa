"""Inside the app's kernel: nothing a viewer can send makes the kernel answer with a traceback.

The viewer's browser is connected to the kernel's iopub channel, and whatever the kernel writes to
``sys.stderr`` reaches it as a ``stream`` message. ipykernel logs a failed ``comm_open``/``comm_msg`` (a
widget message the app did not expect, e.g. a made-up ``jupyter.widget`` comm) with the traceback and the
server's file paths; unhandled errors in widget callbacks go through ``showtraceback`` as an ``error``
message; warnings print file paths. Here these go to the kernel process's own stderr (Voila's server log,
for the operator) and the viewer gets nothing but the comm being closed.
"""
from __future__ import annotations

import io
import logging
import sys
import traceback

_INSTALLED = False


def _server_stream():
    """The kernel process's real stderr. ipykernel also captures file descriptor 2 into the viewer's stream;
    its OutStream.fileno() is the copy of the original descriptor it keeps (ipykernel routes its own log there)."""
    try:
        return open(sys.stderr.fileno(), "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):  # fd capture off: __stderr__ is not captured
        return sys.__stderr__


def protect_kernel() -> None:
    """Route kernel logging, warnings and widget-callback tracebacks to the server log (idempotent)."""
    global _INSTALLED
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if _INSTALLED or shell is None or getattr(shell, "kernel", None) is None:
        return  # only inside a kernel: a test process or a terminal keeps its own logging
    stream = _server_stream()
    server_log = logging.StreamHandler(stream)  # the kernel process's stderr, not the viewer's stream
    server_log.setFormatter(logging.Formatter("[app-kernel] %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [server_log]  # also replaces logging.lastResort, which writes to the captured sys.stderr
    for name in ("ipykernel.comm", "Comm", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.captureWarnings(True)

    def showtraceback(*args, **kwargs):  # widget callbacks: CallbackDispatcher calls ip.showtraceback()
        print("[app-kernel] fout in een widget-callback:\n" + traceback.format_exc(), file=stream)

    shell.showtraceback = showtraceback
    _INSTALLED = True
