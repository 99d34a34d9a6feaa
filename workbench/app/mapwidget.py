"""The app's map: an anywidget with Leaflet and topojson-client bundled (no CDN).

The geometry of a level goes to the browser once per viewer (TopoJSON: shared borders once, quantised,
gzipped, as a binary buffer); a control change sends only the view: one palette index per area, the thick
borders, the legend and the title. Tooltip texts are formatted when a viewer first hovers over the view and
sent for the one area under the mouse. A click on an area sets ``clicked`` to its code.

Why anywidget and not ipyleaflet or lonboard: ipyleaflet re-sends the whole GeoJSON on every style change
(the redraw we want to avoid), lonboard loads its code from a CDN at start-up; anywidget serves the module
from the kernel, so the app works without internet, and the restyle is ours.
"""
from __future__ import annotations

import json

import anywidget
import traitlets

from .. import maps

_LOADER = """
// Leaflet and topojson-client are UMD bundles: evaluate them once with AMD hidden so they set window.L/topojson.
function loadOnce(name, src) {
  if (window[name]) return;
  (new Function("define", "exports", "module", src)).call(window, undefined, undefined, undefined);
}
"""


def _esm() -> str:
    libs = json.dumps(maps.asset("leaflet.js")), json.dumps(maps.asset("topojson.js")), json.dumps(maps.asset("wbmap.js"))
    return _LOADER + f"""
loadOnce("L", {libs[0]});
loadOnce("topojson", {libs[1]});
loadOnce("WBMap", {libs[2]});

function render({{ model, el }}) {{
  performance.mark("wb-render");  // marks for benchmarks/app_first_paint.py: where a first paint's time goes
  const box = document.createElement("div");
  box.style.height = model.get("height") + "px";
  box.style.width = "100%";
  box.setAttribute("data-testid", "map");
  box.className = "wb-map-widget";
  el.appendChild(box);
  const m = new WBMap(box, {{ onclick: (code) => {{ model.set("clicked", code); model.save_changes(); }},
                             // Tooltip texts come from the kernel for the one area under the mouse.
                             ontip: (key, i) => model.send({{ tip: i, key: key }}) }});
  model.on("msg:custom", (msg) => {{ if (msg && msg.rows) m.tipArrived(msg.key, msg.tip, msg.rows); }});
  box.wbmap = m;
  const loaded = {{}};
  let pending = null;
  async function ensure(level) {{
    if (m.hasLevel(level)) return;
    const buf = model.get("geo_" + level);
    if (!buf || !buf.byteLength) throw new Error("no geometry for " + level);
    const bytes = buf instanceof DataView ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
    const topology = await WBMap.inflateBytes(bytes);
    performance.mark("wb-inflated-" + level);
    m.setGeometry(level, topology);
    performance.mark("wb-geometry-" + level);
  }}
  async function draw() {{
    const view = model.get("view");
    if (!view || !view.level) return;
    const times = {{ received: performance.now() }};  // for benchmarks/app_browser.py: where a redraw's time goes
    pending = view;
    await ensure(view.level);
    if (pending !== view) return;  // a newer view arrived meanwhile
    m.setView(view);
    times.applied = performance.now();
    if (!box.dataset.ready) performance.mark("wb-applied");
    // Leaflet paints the canvas in the next animation frame; a task queued from that frame runs once the frame
    // is rendered: only then is the view on screen and marked as drawn.
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    times.painted = performance.now();
    if (pending === view) {{
      box.wbTimes = times;
      if (!box.dataset.ready) performance.mark("wb-first-paint");
      box.setAttribute("data-ready", view.key);
    }}
  }}
  const redraw = () => {{ draw().catch((e) => {{ box.setAttribute("data-error", String(e)); console.error(e); }}); }};
  model.on("change:view", redraw);
  // Leaflet measures its box: wait until the widget is in the page.
  requestAnimationFrame(() => {{ m.map.invalidateSize(); redraw(); }});
  new ResizeObserver(() => m.map.invalidateSize()).observe(box);
  return () => m.map.remove();
}}
export default {{ render }};
"""


class MapWidget(anywidget.AnyWidget):
    """A choropleth whose geometry is sent once per level; ``show(m, level, gemeente)`` sends only the view."""

    _esm = traitlets.Unicode("").tag(sync=True)
    _css = traitlets.Unicode("").tag(sync=True)
    geo_wijk = traitlets.Bytes(b"").tag(sync=True)
    geo_buurt = traitlets.Bytes(b"").tag(sync=True)
    geo_gemeente = traitlets.Bytes(b"").tag(sync=True)
    view = traitlets.Dict({}).tag(sync=True)
    clicked = traitlets.Unicode("").tag(sync=True)
    height = traitlets.Int(620).tag(sync=True)

    def __init__(self, encoded, **kwargs):
        """``encoded(level)`` returns the gzipped TopoJSON of a whole level (all gemeenten, see
        ``PublishedRun.web_topology``): made once per run and level, read from disk by every viewer."""
        super().__init__(_esm=_esm(), _css=maps.asset("leaflet.css") + maps.asset("wbmap.css"), **kwargs)
        self._encoded = encoded
        self._sent: set[str] = set()
        self._shown: tuple[str, maps.Map] | None = None
        self.on_msg(self._message)

    def _message(self, _widget, content, _buffers) -> None:
        """A hover: send the tooltip texts of that area of the view shown now (a stale view gets no answer)."""
        if not isinstance(content, dict) or self._shown is None or content.get("key") != self._shown[0]:
            return
        i = content.get("tip")
        m = self._shown[1]
        if isinstance(i, int) and 0 <= i < len(m.codes):
            self.send({"tip": i, "key": self._shown[0], "rows": m.tip_row(i)})

    def ensure_level(self, level: str) -> None:
        """Send a level's geometry (once per widget, i.e. once per viewer)."""
        if level in self._sent:
            return
        setattr(self, f"geo_{level}", self._encoded(level))
        self._sent.add(level)

    def show(self, m: maps.Map, level: str, gemeente: str | None, key: str) -> None:
        """Show ``m`` (its areas must be ``level``'s areas of ``gemeente``, in the level's order)."""
        self.ensure_level(level)
        self._shown = (key, m)
        self.view = m.view(level=level, gemeente=gemeente, key=key, lazy_tooltip=True)
