"""The app's map: an anywidget with Leaflet and topojson-client bundled (no CDN).

The geometry of a level goes to the browser once per viewer (TopoJSON: shared borders once, quantised,
gzipped, as a binary buffer); a control change sends only the view: one palette index per area, the thick
borders, the legend, the title and the tooltip texts. A click on an area sets ``clicked`` to its code.

Why anywidget and not ipyleaflet or lonboard: ipyleaflet re-sends the whole GeoJSON on every style change
(the redraw we want to avoid), lonboard loads its code from a CDN at start-up; anywidget serves the module
from the kernel, so the app works without internet, and the restyle is ours.
"""
from __future__ import annotations

import gzip
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
  const box = document.createElement("div");
  box.style.height = model.get("height") + "px";
  box.style.width = "100%";
  box.setAttribute("data-testid", "map");
  box.className = "wb-map-widget";
  el.appendChild(box);
  const m = new WBMap(box, {{ onclick: (code) => {{ model.set("clicked", code); model.save_changes(); }} }});
  box.wbmap = m;
  const loaded = {{}};
  let pending = null;
  async function ensure(level) {{
    if (m.hasLevel(level)) return;
    const buf = model.get("geo_" + level);
    if (!buf || !buf.byteLength) throw new Error("no geometry for " + level);
    const bytes = buf instanceof DataView ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
    m.setGeometry(level, await WBMap.inflateBytes(bytes));
  }}
  async function draw() {{
    const view = model.get("view");
    if (!view || !view.level) return;
    pending = view;
    await ensure(view.level);
    if (pending !== view) return;  // a newer view arrived meanwhile
    m.setView(view);
    box.setAttribute("data-ready", view.key);
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

    def __init__(self, geometry, **kwargs):
        """``geometry(level)`` returns the web geometry of a whole level (all gemeenten), indexed by code."""
        super().__init__(_esm=_esm(), _css=maps.asset("leaflet.css") + maps.asset("wbmap.css"), **kwargs)
        self._geometry = geometry
        self._sent: set[str] = set()

    def ensure_level(self, level: str) -> None:
        """Send a level's geometry (once per widget, i.e. once per viewer)."""
        if level in self._sent:
            return
        topo = maps.topology(self._geometry(level))
        raw = json.dumps(topo, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        setattr(self, f"geo_{level}", gzip.compress(raw, compresslevel=6, mtime=0))
        self._sent.add(level)

    def show(self, m: maps.Map, level: str, gemeente: str | None, key: str) -> None:
        """Show ``m`` (its areas must be ``level``'s areas of ``gemeente``, in the level's order)."""
        self.ensure_level(level)
        self.view = m.view(level=level, gemeente=gemeente, key=key)
