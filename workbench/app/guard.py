"""One guard for every control callback of the app (the maps tab and the results tab share it)."""
from __future__ import annotations

import html
import logging
import sys

import ipywidgets as w

from ..errors import WorkbenchError

log = logging.getLogger("workbench.app")


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
