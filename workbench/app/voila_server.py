"""The Voila server behind `workbench serve`: Voila 0.5 plus what a crowd needs.

Run as a script (``python voila_server.py NOTEBOOK ...``, which is what server.voila_command() builds), so the
server process imports Voila only, not the workbench and its pandas/geopandas stack.

1. Kernels of closed pages are shut down. Voila's page sends ``POST /voila/api/shutdown/<kernel>`` with
   ``navigator.sendBeacon`` on ``beforeunload``, with the ``_xsrf`` form field read from the ``_xsrf`` cookie.
   Voila 0.5 never sets that cookie (no handler of its page touches ``xsrf_token``), so the field is empty
   and jupyter_server refuses the shutdown with 403 "'_xsrf' argument missing from POST" (voila issue
   #1458). The page handler below sets the cookie before the first byte of the page; the XSRF check stays on.
2. A cap on viewers: when ``max_viewers`` kernels are in use, a new page gets a short Dutch "de app is
   vol" page (HTTP 503, Retry-After) instead of a kernel. The preheated pool (``pool_size``) comes on top.
3. A culler as safety net for pages whose shutdown never arrived (browser crash, lost network): a kernel
   without any open connection that has been idle for ``cull_idle_timeout`` seconds is shut down. Kernels
   of open pages are kept (``cull_connected=False``): a viewer reading a map is not cut off; the cap
   bounds those.
4. Kernel starts in turn: every page takes a kernel from Voila's pool, which at once starts the next one
   (kernel start-up and the app's render: a few CPU-seconds). At most ``max_starting`` (one per core) of
   those run at once; the others wait their turn. Twenty at once on two cores each took minutes and most
   browsers gave up before their map arrived, so all that work was lost.
5. A queue instead of a blank wait: a page admitted while kernels are still starting for others waits, with an
   empty browser tab, for its kernel. At most ``max_waiting`` (one per starting slot) page requests wait like that;
   a further viewer gets a short Dutch "het is druk" page at once (HTTP 503, refreshes itself every 3 s) that says
   their place in the queue and the expected wait. The place is kept in a cookie, so viewers are let in in the
   order they came; a place not asked for again within 20 s is given up.
6. Ready only when warm: Voila starts its preheated pool (kernels that have already rendered the app) at start-up,
   which takes 10-25 s on a small machine. Until every pool kernel has rendered, a page request gets a short
   Dutch "de app wordt gestart" page (HTTP 503, refreshes itself every 2 s, no kernel), ``/ready`` answers 503,
   and then the server prints "De app is klaar" and ``/ready`` answers 200. So the first visitor after "klaar"
   gets a rendered kernel at once, like any later one, instead of waiting for a kernel to start and render.
7. The server log stays readable: jupyter_server's error page needs a ``static_path`` Voila does not set, so
   every 404 of a kernel websocket (a page connecting after its kernel was shut down or culled) and every 500
   logged a second traceback from the template; now such errors get a short Dutch page, and routine connection
   errors of a crowd (a kernel that did not start in time, a closed stream, a page that left while its websocket
   was set up, a kernel shut down while the culler looked at it) are one warning line each.
Pages carry no resource from the internet: the ``mmr`` template (jupyter/voila/templates/mmr) is Voila's
``lab`` template without the Font Awesome and Mermaid CDN links (the app uses no icons and no diagrams).
"""
from __future__ import annotations

import asyncio
import contextvars
import itertools
import os
import sys
import time
from pathlib import Path

# Our template folder is found through JUPYTER_PATH (read by Voila at start-up, before any import below uses it).
_JUPYTER_DIR = Path(__file__).resolve().parent / "jupyter"
os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(_JUPYTER_DIR), os.environ.get("JUPYTER_PATH", "")) if p)

from jupyter_server._tz import utcnow  # noqa: E402
from jupyter_server.base.handlers import JupyterHandler  # noqa: E402
from jupyter_server.services.kernels.websocket import KernelWebsocketHandler  # noqa: E402
from tornado.iostream import StreamClosedError  # noqa: E402
from tornado.web import RequestHandler  # noqa: E402
from tornado.websocket import WebSocketClosedError  # noqa: E402
from traitlets import Float, Int  # noqa: E402
from voila.app import Voila  # noqa: E402
from voila.tornado.handler import TornadoVoilaHandler  # noqa: E402

_PAGE_STYLE = ("body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222;"
               "line-height:1.5}h1{font-size:1.5em}")


def _page(testid: str, title: str, heading: str, body: str, refresh: int | None = None) -> str:
    """A short Dutch page of the server itself (no template, no kernel, nothing from the internet)."""
    meta = f'<meta http-equiv="refresh" content="{refresh}">' if refresh else ""
    return (f'<!DOCTYPE html>\n<html lang="nl"><head><meta charset="utf-8">{meta}\n<title>{title}</title>\n'
            f'<style>{_PAGE_STYLE}</style></head>\n<body data-testid="{testid}"><h1>{heading}</h1>\n{body}</body></html>\n')


def full_page(in_use: int, cap: int) -> str:
    return _page("app-full", "De app is even vol", "De app is op dit moment vol", f"""<p>Er bekijken nu {in_use} mensen
tegelijk de app; meer kan deze server niet aan zonder voor iedereen trager te worden. Probeer het over een paar
minuten opnieuw: deze pagina probeert het zelf elke minuut.</p>
<p>Beheerder: het maximum staat op {cap} kijkers (<code>MMR_APP_MAX_VIEWERS</code>, zie README, "Geheugen en
aantal kijkers").</p>""", refresh=60)


STARTING_PAGE = _page("app-starting", "De app wordt gestart", "De app wordt gestart", """<p>De server is net
opgestart en zet de kaarten klaar. Dat duurt meestal minder dan een halve minuut; deze pagina ververst zichzelf en
toont de app zodra die klaar is.</p>""", refresh=2)


def busy_page(place: int, wait: int | None) -> str:
    """The queue page: the viewer's place and, once a kernel start was measured, the expected wait."""
    wait_text = f"; verwachte wachttijd ongeveer {wait} seconden" if wait else ""
    return _page("app-busy", "Even geduld: de app is druk", "Even geduld: de kaarten worden klaargezet", f"""<p>Er
openen nu meer mensen tegelijk de app dan de server in één keer aankan. U bent <b>nummer {place}</b> in de
rij{wait_text}. Deze pagina ververst zichzelf en toont de app zodra u aan de beurt bent; u hoeft niets te doen.</p>
""", refresh=3)


QUEUE_COOKIE, QUEUE_FORGET = "mmr_rij", 20.0


# Errors of a viewer's connection that are part of a crowd, not faults of the code: the page's kernel was
# already shut down or culled, it did not start in time on a busy machine, the browser went away. One line each
# in the server log; every other exception keeps its traceback there (never on a page).
ROUTINE_ERRORS = (TimeoutError, asyncio.TimeoutError, StreamClosedError, WebSocketClosedError, ConnectionError)


def _write_error(self, status_code: int, **kwargs) -> None:
    """Jupyter server's error page needs a static_path Voila does not set (its template then raised a second
    exception, with a traceback in the log): a short Dutch page instead, without templates."""
    if status_code == 404:
        title, text = "Deze pagina bestaat niet", "Open de app via het adres dat u kreeg (de hoofdpagina)."
    else:
        title, text = ("Er ging iets mis", "Laad de pagina over een halve minuut opnieuw. Blijft het misgaan, meld "
                       "het dan bij de beheerder van de app.")
    self.set_header("Content-Type", "text/html; charset=utf-8")
    self.finish(_page("app-error", title, title, f"<p>{text}</p>"))


def _log_exception(self, typ, value, tb) -> None:
    if isinstance(value, ROUTINE_ERRORS):
        self.log.warning("%s %s: %s (%s)", self.request.method, self.request.path, value or "", typ.__name__)
        return
    RequestHandler.log_exception(self, typ, value, tb)


JupyterHandler.write_error = _write_error  # API handlers keep their own JSON errors (APIHandler.write_error)
JupyterHandler.log_exception = _log_exception
_select_subprotocol = KernelWebsocketHandler.select_subprotocol


def _select_subprotocol_if_open(self, subprotocols):
    """A page that leaves while its websocket is being set up: jupyter_server has dropped the connection already
    and raised AttributeError ('NoneType' ... 'kernel_ws_protocol') with a traceback; the socket is simply gone."""
    return None if self.connection is None else _select_subprotocol(self, subprotocols)


KernelWebsocketHandler.select_subprotocol = _select_subprotocol_if_open


# The page request being served (set by AppPageHandler): the kernel manager wrappers note its kernel on it.
_REQUEST: contextvars.ContextVar[dict | None] = contextvars.ContextVar("mmr_page_request", default=None)


def _unavailable(handler: RequestHandler, page: str, retry: int) -> None:
    handler.set_status(503)
    handler.set_header("Retry-After", str(retry))
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.finish(page)


class ReadyHandler(RequestHandler):
    """``GET /ready``: 200 once the preheated pool has rendered the app, 503 before (for scripts and service
    managers; no kernel is used)."""

    def get(self):
        app = self.settings["workbench_voila"]
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if not app.ready:
            self.set_status(503)
        self.finish("klaar\n" if app.ready else "start nog\n")


class AppPageHandler(TornadoVoilaHandler):
    async def get(self, path=None):
        self.xsrf_token  # sets the _xsrf cookie the page's shutdown beacon sends back (see module docstring)
        app = self.settings["workbench_voila"]
        if not app.ready:
            _unavailable(self, STARTING_PAGE, 2)
            return
        in_use = app.viewer_kernels()
        if in_use >= app.max_viewers:
            self.log.warning("app vol: %d kijkers (max %d; kernels %s, wachtend %d); pagina geweigerd", in_use,
                             app.max_viewers, sorted(app.viewers), len(app.pending))
            _unavailable(self, full_page(in_use, app.max_viewers), 60)
            return
        try:
            ticket = int(self.get_cookie(QUEUE_COOKIE) or "")
        except ValueError:
            ticket = None
        admitted, ticket, place = app.admit(ticket)
        if not admitted:
            self.set_cookie(QUEUE_COOKIE, str(ticket), httponly=True, samesite="Strict")
            _unavailable(self, busy_page(place, app.expected_wait(place)), 3)
            return
        self.clear_cookie(QUEUE_COOKIE)
        request = {"kernel": None}
        app.pending.append(request)  # admitted: counts as a viewer from now on, also before its kernel exists
        token = _REQUEST.set(request)
        try:
            await super().get(path)
        finally:
            _REQUEST.reset(token)
            # By identity: two waiting requests are equal dicts, and list.remove would take the wrong one
            # (and later raise ValueError for the other).
            app.pending[:] = [r for r in app.pending if r is not request]


class WorkbenchVoila(Voila):
    max_viewers = Int(20, config=True, help="maximum number of kernels of open pages (the preheated pool not counted)")
    max_starting = Int(2, config=True, help="kernels starting and rendering the app at the same time (the preheated pool refilling)")
    max_waiting = Int(0, config=True, help="page requests waiting for a kernel at once; more get the Dutch queue page "
                                           "(0: as many as max_starting)")
    warmup_timeout = Float(300, config=True, help="seconds to wait for the preheated pool before serving anyway")

    def init_settings(self):
        settings = super().init_settings()
        settings["workbench_voila"] = self
        self.ready = False
        self._started = time.monotonic()
        # The pool's tasks were created by the kernel manager on this loop; they run once Voila starts it.
        asyncio.get_event_loop().create_task(self._warm_up())
        self.viewers: set[str] = set()  # kernel ids handed to pages
        self.pending: list[dict] = []  # page requests being served
        self.queue: dict[int, float] = {}  # queue ticket -> when its viewer last asked (the busy page refreshes)
        self._tickets = itertools.count(1)
        self.start_seconds = 0.0  # moving average of one kernel's start and render (for the expected wait)
        km = self.kernel_manager
        # Wrapped on the instance: the page handler calls these through `self.kernel_manager`, while the
        # preheated pool starts its kernels through the class (`super().start_kernel`), so only a viewer's
        # kernel is noted here.
        start_kernel = km.start_kernel

        async def start_viewer_kernel(*args, **kwargs):
            return self._note(await start_kernel(*args, **kwargs))

        km.start_kernel = start_viewer_kernel
        cull = km.cull_kernel_if_idle

        async def cull_if_still_there(kernel_id):
            """A kernel shut down by its page while the culler looked at it: jupyter_server logged the KeyError
            with a traceback; it is simply gone."""
            if kernel_id not in km:
                return None
            try:
                return await cull(kernel_id)
            except KeyError:
                self.log.warning("kernel %s was al afgesloten toen de opruimer keek", kernel_id)
                return None

        km.cull_kernel_if_idle = cull_if_still_there
        if hasattr(km, "_initialize"):  # the pool's kernel start + render (the first pool is already under way)
            initialize, turns = km._initialize, asyncio.Semaphore(self.max_starting)

            async def initialize_in_turn(*args, **kwargs):
                async with turns:  # hold the turn until the app is rendered, not only until the kernel is up
                    t0 = time.monotonic()
                    content = await initialize(*args, **kwargs)
                    await asyncio.wait([content["task"]])
                    took = time.monotonic() - t0
                    self.start_seconds = took if not self.start_seconds else 0.7 * self.start_seconds + 0.3 * took
                return content

            km._initialize = initialize_in_turn
        if hasattr(km, "get_rendered_notebook"):
            get_rendered = km.get_rendered_notebook

            async def get_rendered_for_viewer(*args, **kwargs):
                task, cache, kernel_id = await get_rendered(*args, **kwargs)
                self._note(kernel_id)
                return task, cache, kernel_id

            km.get_rendered_notebook = get_rendered_for_viewer
        return settings

    def _note(self, kernel_id: str) -> str:
        self.viewers.add(kernel_id)
        try:  # a preheated kernel may have waited longer than the cull time: its viewer starts the clock now,
            # or the culler would take it before the page's websocket connects
            self.kernel_manager.get_kernel(kernel_id).last_activity = utcnow()
        except KeyError:
            pass
        request = _REQUEST.get()
        if request is not None:
            request["kernel"] = kernel_id
        return kernel_id

    async def _warm_up(self) -> None:
        """Ready when every kernel of the preheated pool has rendered the app (or failed; or after the time-out:
        then pages are served the ordinary way, a kernel started per page)."""
        pools = getattr(self.kernel_manager, "_pools", {})  # Voila's pool (absent without preheat_kernel)

        async def rendered(item):
            content = await item
            await content["task"]

        items = [rendered(i) for pool in pools.values() for i in list(pool)]
        try:
            await asyncio.wait_for(asyncio.gather(*items, return_exceptions=True), self.warmup_timeout)
            how = f"{len(items)} kernels voorverwarmd"
        except asyncio.TimeoutError:
            how = f"voorverwarmen duurde langer dan {self.warmup_timeout:.0f} s; elke pagina start nu een eigen kernel"
            self.log.warning(how)
        self.ready = True
        print(f"De app is klaar: {self.display_url.strip()} ({how} in {time.monotonic() - self._started:.0f} s)",
              file=sys.stderr, flush=True)

    def init_handlers(self):
        handlers = [(h[0], AppPageHandler, *h[2:]) if h[1] is TornadoVoilaHandler else h for h in super().init_handlers()]
        return [(self.server_url.rstrip("/") + "/ready", ReadyHandler)] + handlers

    def waiting(self) -> int:
        """Admitted page requests that have no kernel yet (their viewer sees an empty tab meanwhile)."""
        return sum(1 for r in self.pending if r["kernel"] is None)

    def admit(self, ticket: int | None) -> tuple[bool, int | None, int]:
        """(admitted, ticket, place in the queue): a page is admitted while fewer than ``max_waiting`` requests
        wait for a kernel and nobody who came earlier is still queued; else it gets (or keeps) a ticket."""
        now = time.monotonic()
        self.queue = {t: seen for t, seen in self.queue.items() if now - seen < QUEUE_FORGET}
        ahead = sum(1 for t in self.queue if ticket is None or t < ticket)
        if self.waiting() + ahead < (self.max_waiting or self.max_starting):
            self.queue.pop(ticket, None)
            return True, ticket, 0
        if ticket is None:
            ticket = next(self._tickets)
        self.queue[ticket] = now
        return False, ticket, ahead + 1

    def expected_wait(self, place: int) -> int | None:
        """Seconds until the viewer at ``place`` has a kernel, from the measured start-and-render time (rounded
        up to 5 s); None before any was measured."""
        if not self.start_seconds:
            return None
        rounds = (place + self.waiting() + self.max_starting - 1) // self.max_starting
        return max(5, int(5 * -(-rounds * self.start_seconds // 5)))

    def viewer_kernels(self) -> int:
        """Kernels of pages (shut-down ones forgotten) plus admitted page requests still waiting for one."""
        self.viewers &= set(self.kernel_manager.list_kernel_ids())
        return len(self.viewers) + sum(1 for r in self.pending if r["kernel"] is None)


if __name__ == "__main__":
    sys.exit(WorkbenchVoila.launch_instance())
