/* The workbench map: Leaflet + TopoJSON, geometry once, a view (colours, legend, tooltip texts) per change.
 * Used by the standalone HTML maps and by the app's map widget. Needs window.L and window.topojson. */
(function (root) {
  "use strict";
  var NL = {zoomIn: "Inzoomen", zoomOut: "Uitzoomen", home: "Hele gebied",
            wheel: "Zoomen met het muiswiel: houd Ctrl ingedrukt (of gebruik + en −)"};

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c];
    });
  }

  function column(col, i) {  // a tooltip column: plain values or a dictionary and indices
    if (col.v) return col.v[i];
    return col.d[col.i[i]];
  }

  function WBMap(el, opts) {
    opts = opts || {};
    this.el = el;
    el.classList.add("wb-mapbox");
    this.levels = {};       // level -> {features, byGemeente}
    this.current = null;    // {level, gemeente, features}
    this.onclick = opts.onclick || null;
    this.ontip = opts.ontip || null;   // lazy tooltips: ask for the texts of one area (the app's kernel answers)
    this.tips = {};                    // texts of the current view received so far, by area index
    // Leaflet's outline simplification on screen (px). benchmarks/map_redraw.py compares: 2 draws faster but shows
    // double borders where two neighbours are simplified differently, so 1 (Leaflet's default).
    this.smooth = opts.smoothFactor || 1;
    var map = this.map = L.map(el, {zoomSnap: 0.25, zoomControl: false, scrollWheelZoom: false,
                                    attributionControl: true, preferCanvas: true,
                                    renderer: L.canvas({padding: 0.2})});
    map.attributionControl.setPrefix(false);
    L.control.zoom({position: "topleft", zoomInTitle: NL.zoomIn, zoomOutTitle: NL.zoomOut}).addTo(map);
    var self = this;
    var Home = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
      var b = L.DomUtil.create("a", "wb-home leaflet-bar-part");
      var bar = L.DomUtil.create("div", "leaflet-bar wb-home-bar");
      bar.appendChild(b);
      b.href = "#"; b.title = NL.home; b.setAttribute("role", "button"); b.setAttribute("aria-label", NL.home);
      b.setAttribute("data-testid", "map-home");
      b.innerHTML = "&#8962;<span>hele gebied</span>";
      L.DomEvent.disableClickPropagation(bar);
      L.DomEvent.on(b, "click", function (e) { L.DomEvent.preventDefault(e); self.home(); });
      return bar;
    }});
    new Home().addTo(map);
    L.control.scale({imperial: false, metric: true, position: "bottomleft"}).addTo(map);
    if (opts.tiles) {
      L.tileLayer(opts.tiles.url, {attribution: opts.tiles.attribution, opacity: 0.5}).addTo(map);
    }
    // Wheel zoom only with Ctrl (or Cmd): a page that scrolls past the map keeps scrolling.
    var hint = L.DomUtil.create("div", "wb-wheel-hint", el);
    hint.textContent = NL.wheel;
    var hintTimer = null;
    el.addEventListener("wheel", function (e) {
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        var z = map.getZoom() + (e.deltaY < 0 ? 0.5 : -0.5);
        map.setZoomAround(map.mouseEventToContainerPoint(e), z, {animate: false});
      } else {
        hint.classList.add("wb-show");
        clearTimeout(hintTimer);
        hintTimer = setTimeout(function () { hint.classList.remove("wb-show"); }, 1200);
      }
    }, {passive: false});
    // Our own tooltip: above every control (legend included) and kept inside the map.
    this.tip = L.DomUtil.create("div", "wb-tooltip", el);
    this.tip.setAttribute("data-testid", "map-tooltip");
    this.titleBox = L.DomUtil.create("div", "wb-title", el);
    this.bannerBox = L.DomUtil.create("div", "wb-banner", el);
    this.legendBox = L.DomUtil.create("div", "wb-legend-box", el);
    [this.titleBox, this.bannerBox, this.legendBox].forEach(function (b) { L.DomEvent.disableScrollPropagation(b); });
    this.layer = L.layerGroup().addTo(map);
    this.borders = L.layerGroup().addTo(map);
    map.on("mouseout", function () { self.hideTip(); });
    this.boldWeight = 3;
    map.on("zoomend", function () { self.fitBold(true); });
  }

  WBMap.prototype.setGeometry = function (level, topology) {
    var name = Object.keys(topology.objects)[0];
    var obj = topology.objects[name];
    var fc = topojson.feature(topology, obj);
    var byG = {};
    fc.features.forEach(function (f) {
      var g = f.properties.g || "";
      (byG[g] = byG[g] || []).push(f);
    });
    this.levels[level] = {topology: topology, object: obj, features: fc.features, byGemeente: byG, layers: {}};
  };

  WBMap.prototype.hasLevel = function (level) { return !!this.levels[level]; };

  WBMap.prototype._features = function (lv, gemeente) {
    return gemeente ? (lv.byGemeente[gemeente] || []) : lv.features;
  };

  WBMap.prototype.setView = function (view) {
    var lv = this.levels[view.level];
    if (!lv) throw new Error("geometry for level " + view.level + " not loaded");
    var feats = this._features(lv, view.gemeente || null);
    var key = view.level + "|" + (view.gemeente || "");
    var self = this;
    if (!this.current || this.current.key !== key) {
      this.layer.clearLayers();
      this.borders.clearLayers();
      // One GeoJSON layer for all areas, with its events on the group (14.500 areas: no 58.000 listeners).
      var layers = [];
      var group = L.geoJSON({type: "FeatureCollection", features: feats}, {
        style: {weight: 0.8, color: "#666", fillOpacity: 0.8, fillColor: "#c8c8c8"}, smoothFactor: this.smooth,
        onEachFeature: function (f, lyr) { lyr._wbIndex = layers.length; layers.push(lyr); }
      });
      group.on("mousemove", function (e) { self.showTip(e.layer._wbIndex, e); });
      group.on("mouseover", function (e) { e.layer.setStyle({weight: 3, color: "#000"}); });
      group.on("mouseout", function (e) { self.restyle(e.layer._wbIndex); self.hideTip(); });
      group.on("click", function (e) { if (self.onclick) self.onclick(feats[e.layer._wbIndex].properties.c); });
      this.layer.addLayer(group);
      if (view.outline !== false && lv.topology) {  // gemeente borders: the arcs between two gemeenten
        var mesh = topojson.mesh(lv.topology, lv.object, function (a, b) {
          return a === b ? (!view.gemeente || a.properties.g === view.gemeente)
            : (a.properties.g !== b.properties.g && (!view.gemeente || a.properties.g === view.gemeente || b.properties.g === view.gemeente));
        });
        L.geoJSON(mesh, {interactive: false, style: {color: "#333", weight: 2, dashArray: "6 4", fill: false}}).addTo(this.borders);
      }
      var fit = !this.current;
      this.current = {key: key, features: feats, layers: layers, bounds: layers.length ? group.getBounds() : null};
      if (fit || view.refit !== false) this.home();
    }
    this.view = view;
    this.tips = {};
    this.tipAt = null;
    this.fills = view.fill;
    this.fitBold(false);
    for (var i = 0; i < feats.length; i++) this.restyle(i);
    this.titleBox.innerHTML = view.title || "";
    this.titleBox.style.display = view.title ? "" : "none";
    this.bannerBox.innerHTML = view.banner ? esc(view.banner) : "";
    this.bannerBox.style.display = view.banner ? "" : "none";
    this.bannerBox.setAttribute("data-testid", "fictional");
    this.legendBox.innerHTML = view.legend || "";
    this.hideTip();
    this.el.setAttribute("data-view", view.key || key);
    this.el.setAttribute("data-areas", String(feats.length));
  };

  // A thick border marks a difference outside chance. Where areas are only a few pixels wide on screen (all
  // buurten of the country) a 3 px border would cover the area and its colour: thinner then, still black.
  WBMap.prototype.fitBold = function (restyle) {
    var c = this.current;
    if (!c || !c.bounds || !c.bounds.isValid() || !c.layers.length) return;
    var a = this.map.project(c.bounds.getNorthEast()), b = this.map.project(c.bounds.getSouthWest());
    var perArea = Math.sqrt(Math.abs((a.x - b.x) * (a.y - b.y)) / c.layers.length);  // px, a typical area's side
    var w = perArea < 12 ? 1.2 : perArea < 30 ? 2 : 3;
    if (w === this.boldWeight) return;
    this.boldWeight = w;
    if (restyle && this.view && this.view.bold) for (var i = 0; i < c.layers.length; i++) this.restyle(i);
  };

  WBMap.prototype.restyle = function (i) {
    var v = this.view, lyr = this.current && this.current.layers[i];
    if (!v || !lyr) return;
    var c = v.palette[parseInt(v.fill.charAt(i), 36)] || "#c8c8c8";
    var bold = v.bold && v.bold.charAt(i) === "1";
    lyr.setStyle({fillColor: c, color: bold ? "#111" : "#666", weight: bold ? this.boldWeight : 0.8});
  };

  WBMap.prototype.fillOf = function (code) {  // for tests: the colour an area shows now
    if (!this.current) return null;
    for (var i = 0; i < this.current.features.length; i++) {
      if (this.current.features[i].properties.c === code) {
        return this.view.palette[parseInt(this.view.fill.charAt(i), 36)];
      }
    }
    return null;
  };

  WBMap.prototype.home = function () {
    var self = this;
    if (this.map._animatingZoom) {  // a zoom still under way would end where it was going: fit after it
      this.map.once("zoomend", function () { self.home(); });
      return;
    }
    if (this.current && this.current.bounds && this.current.bounds.isValid()) {
      this.map.fitBounds(this.current.bounds, {padding: [8, 8], animate: false});
    }
  };

  WBMap.prototype.showTip = function (i, e) {
    var v = this.view, f = this.current.features[i];
    if (!v) return;
    var rows = ["<tr><th>Gebied</th><td>" + esc(f.properties.n) + "</td></tr>"];
    var t = v.tooltip || {labels: [], cols: []};
    var texts = null;
    if (t.lazy) {
      texts = this.tips[i] || null;
      if (!texts && this.ontip && !(this.tipAt && this.tipAt.i === i)) this.ontip(v.key, i);
    }
    this.tipAt = {i: i, p: e.originalEvent ? this.map.mouseEventToContainerPoint(e.originalEvent) : e.point};
    for (var k = 0; k < t.labels.length; k++) {
      var text = t.lazy ? (texts ? texts[k] : "…") : column(t.cols[k], i);
      rows.push("<tr><th>" + esc(t.labels[k]) + "</th><td>" + esc(text) + "</td></tr>");
    }
    this._placeTip(rows);
  };

  WBMap.prototype.tipArrived = function (key, i, texts) {  // the kernel's answer to ontip
    if (!this.view || key !== this.view.key) return;
    this.tips[i] = texts;
    var at = this.tipAt;
    if (at && at.i === i && this.tip.style.display === "block") {
      this.showTip(i, {point: at.p});
    }
  };

  WBMap.prototype._placeTip = function (rows) {
    var tip = this.tip;
    tip.innerHTML = "<table>" + rows.join("") + "</table>";
    tip.style.display = "block";
    var p = this.tipAt.p;
    var W = this.el.clientWidth, H = this.el.clientHeight, w = tip.offsetWidth, h = tip.offsetHeight;
    var x = p.x + 14, y = p.y - h - 10;           // above the cursor by default
    if (x + w > W - 4) x = p.x - w - 14;
    if (x < 4) x = 4;
    if (y < 4) y = Math.min(p.y + 16, H - h - 4);
    tip.style.left = x + "px"; tip.style.top = y + "px";
  };

  WBMap.prototype.hideTip = function () { this.tip.style.display = "none"; };

  // Data blocks are gzipped JSON in base64 (a national map stays a few MB); the browser inflates them.
  WBMap.inflate = function (b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return WBMap.inflateBytes(bytes);
  };
  WBMap.inflateBytes = function (bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(JSON.parse);
  };

  root.WBMap = WBMap;
})(typeof window !== "undefined" ? window : this);
