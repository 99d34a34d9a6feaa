"""Between the viewer and the app's kernel: no traceback ever reaches the viewer.

``guarded``: one guard for every control callback of the app (the maps tab and the results tab share it).

``protect_kernel``: the viewer's browser is connected to the kernel's iopub channel, and whatever the kernel
writes to ``sys.stderr`` reaches it as a ``stream`` message. ipykernel logs a failed ``comm_open``/``comm_msg``
(a widget message the app did not expect, e.g. a made-up ``jupyter.widget`` comm) with the traceback and the
server's file paths; unhandled errors in widget callbacks go through ``showtraceback`` as an ``error``
message; warnings print file paths. After ``protect_kernel()`` these go to the kernel process's own stderr
(Voila's server log, for the operator) and the viewer gets nothing but the comm being closed.
"""
from __future__ import annotations

import html
import io
import logging
import sys
import traceback

import ipywidgets as w

from ..errors import WorkbenchError

log = logging.getLogger("workbench.app")
_INSTALLED = False


def guarded(status: w.HTML, fn):
    """A control callback never shows a traceback to the viewer: a Dutch message in ``status`` instead, the
    details in the server log."""
    def handler(change=None):
        try:
            status.value = ""
            fn(change)
        except WorkbenchError as exc:
            status.value = f'<div class="wb-error">{html.escape(exc.render())}</div>'
        except Exception:  # noqa: BLE001 — logged for the analyst, a plain message for the viewer
            log.exception("app callback failed")
            print("app callback failed", file=sys.stderr)
            status.value = ('<div class="wb-error">Dit onderdeel kon niet worden getoond. De beheerder '
                            'vindt de details in het serverlog.</div>')
    return handler


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
