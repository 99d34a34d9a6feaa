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

  // The areas' renderer. Leaflet's canvas fills and strokes every area on every repaint (14.500 buurten: about
  // 0.2-0.4 s on this machine, mostly rasterising). Here a repaint after a change of colours is a table look-up
  // per pixel: after each move/zoom the areas are drawn once into an index image (area k in a colour that encodes
  // k with a check, so blended edge pixels are recognised and given a neighbour's index) and their thin borders
  // into a bitmap; a new view then writes colour[index] per pixel and strokes only the thick borders.
  // Other layers (the gemeente borders) are drawn as Leaflet does. Hit-testing stays Leaflet's.
  var WBCanvas = L.Canvas.extend({
    options: {baseColor: "#666", baseWeight: 0.8},
    _updatePaths: function () { this._wbStale = true; L.Canvas.prototype._updatePaths.call(this); },
    _update: function () { this._wbStale = true; L.Canvas.prototype._update.call(this); },
    _initPath: function (l) { this._wbStale = true; L.Canvas.prototype._initPath.call(this, l); },
    _removePath: function (l) { this._wbStale = true; L.Canvas.prototype._removePath.call(this, l); },
    wbRedraw: function () {  // one full repaint in the next frame (after styles were set directly)
      if (this._map) this._redrawRequest = this._redrawRequest || L.Util.requestAnimFrame(this._redraw, this);
    },
    wbHover: function (layer) {  // the area under the mouse: outlined on top of the last frame, nothing repainted
      this._wbHover = layer;
      if (!this._map) return;
      this._wbHoverOnly = !this._redrawRequest;
      this._redrawRequest = this._redrawRequest || L.Util.requestAnimFrame(this._redraw, this);
    },
    _redraw: function () {
      this._redrawRequest = null;
      this._redrawBounds = null;  // always whole: the look-up repaints everything in a few ms
      var ctx = this._ctx, f = this._wbFrame, hoverOnly = this._wbHoverOnly && f && !this._wbStale &&
        f.width === this._container.width && f.height === this._container.height;
      this._wbHoverOnly = false;
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      if (hoverOnly) {
        ctx.clearRect(0, 0, f.width, f.height);
        ctx.drawImage(f, 0, 0);
      } else {
        this._clear();
        ctx.restore();
        this._draw();
        ctx.save();
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        f = this._wbFrame = this._wbFrame || document.createElement("canvas");
        f.width = this._container.width; f.height = this._container.height;  // (also clears it)
        f.getContext("2d").drawImage(this._container, 0, 0);
      }
      ctx.restore();
      var h = this._wbHover, k = h && this._wb ? this._wb.areas.indexOf(h) : -1;
      if (k >= 0) {
        ctx.save();
        ctx.lineJoin = "round"; ctx.lineWidth = 3; ctx.strokeStyle = "#000";
        ctx.stroke(this._wb.paths[k]);
        ctx.restore();
      }
    },
    _draw: function () {
      var areas = [], others = [];
      for (var o = this._drawFirst; o; o = o.next) {
        (o.layer._wbIndex != null && o.layer.options.fill ? areas : others).push(o.layer);
      }
      if (areas.length) this._wbAreas(areas);
      this._ctx.save();
      this._drawing = true;
      for (var i = 0; i < others.length; i++) others[i]._updatePath();
      this._drawing = false;
      this._ctx.restore();
    },
    _wbCache: function (areas) {
      var c = this._container, W = c.width, H = c.height, n = areas.length, T = this._ctx.getTransform();
      var bits = Math.max(1, Math.ceil(Math.log2(n + 1))), mask = (1 << bits) - 1, chk = new Int32Array(n + 1);
      for (var k = 1; k <= n; k++) chk[k] = (Math.imul(k, 2654435761) >>> (bits + 8)) & ((1 << (24 - bits)) - 1);
      var paths = new Array(n), all = new Path2D();
      var ic = document.createElement("canvas"); ic.width = W; ic.height = H;
      var ix = ic.getContext("2d", {willReadFrequently: true});
      ix.setTransform(T);
      for (k = 1; k <= n; k++) {
        var parts = areas[k - 1]._parts, p = new Path2D();
        for (var a = 0; a < parts.length; a++) {
          for (var b = 0; b < parts[a].length; b++) p[b ? "lineTo" : "moveTo"](parts[a][b].x, parts[a][b].y);
          p.closePath();
        }
        paths[k - 1] = p;
        all.addPath(p);
        if (!parts.length) continue;
        var code = k | (chk[k] << bits);
        ix.fillStyle = "#" + (0x1000000 + code).toString(16).slice(1);
        ix.fill(p, "evenodd");
      }
      var px = new Uint32Array(ix.getImageData(0, 0, W, H).data.buffer), N = W * H;
      var raw = new Int32Array(N), idx = n > 65535 ? new Uint32Array(N) : new Uint16Array(N), v, rgb, q;
      for (q = 0; q < N; q++) {  // 0: no area, -1: an edge pixel (blended), else the area's index
        v = px[q];
        if (!(v >>> 24)) continue;
        rgb = ((v & 255) << 16) | (v & 0xff00) | ((v >>> 16) & 255);
        k = rgb & mask;
        raw[q] = (v >>> 24) === 255 && k >= 1 && k <= n && (rgb >>> bits) === chk[k] ? k : -1;
      }
      for (q = 0; q < N; q++) {  // an index must have a same-index neighbour, else it is an edge too
        k = raw[q];
        if (k > 0 && (raw[q - 1] === k || raw[q + 1] === k || raw[q - W] === k || raw[q + W] === k)) idx[q] = k;
        else if (k !== 0) idx[q] = q % W ? idx[q - 1] || (q >= W ? idx[q - W] : 0) : 0;
      }
      var bc = document.createElement("canvas"); bc.width = W; bc.height = H;
      var bx = bc.getContext("2d");
      bx.setTransform(T);
      bx.lineWidth = this.options.baseWeight; bx.strokeStyle = this.options.baseColor; bx.lineJoin = "round";
      bx.stroke(all);
      this._wb = {areas: areas, paths: paths, idx: idx, borders: bc, W: W, H: H,
                  img: this._ctx.createImageData(W, H), colours: {}};
      this._wbStale = false;
    },
    _wbAreas: function (areas) {
      var c = this._wb;
      if (this._wbStale || !c || c.areas.length !== areas.length || c.W !== this._container.width ||
          c.H !== this._container.height || c.areas[0] !== areas[0]) {
        this._wbCache(areas);
        c = this._wb;
      }
      var n = areas.length, lut = new Uint32Array(n + 1), ctx = this._ctx, bold = {}, k, o;
      for (k = 0; k < n; k++) {
        o = areas[k].options;
        var key = o.fillColor + "|" + o.fillOpacity;
        var rgba = c.colours[key];
        if (rgba === undefined) rgba = c.colours[key] = WBCanvas.rgba(o.fillColor, o.fillOpacity);
        lut[k + 1] = rgba;
        if (o.weight !== this.options.baseWeight || o.color !== this.options.baseColor) {
          var s = o.color + "|" + o.weight;
          (bold[s] = bold[s] || {color: o.color, weight: o.weight, paths: []}).paths.push(c.paths[k]);
        }
      }
      var out = new Uint32Array(c.img.data.buffer), idx = c.idx, N = idx.length;
      for (var q = 0; q < N; q++) out[q] = lut[idx[q]];
      ctx.putImageData(c.img, 0, 0);
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.drawImage(c.borders, 0, 0);
      ctx.restore();
      ctx.save();
      ctx.lineJoin = WBCanvas.join;
      for (var s2 in bold) {  // thick borders, one stroke per style
        var g = bold[s2], all = new Path2D();
        for (k = 0; k < g.paths.length; k++) all.addPath(g.paths[k]);
        ctx.lineWidth = g.weight; ctx.strokeStyle = g.color;
        ctx.stroke(all);
      }
      ctx.restore();
    }
  });
  WBCanvas.join = "miter";
  WBCanvas.rgba = function (colour, opacity) {  // a CSS colour as the little-endian RGBA word of an ImageData
    var cx = WBCanvas._cx || (WBCanvas._cx = document.createElement("canvas").getContext("2d", {willReadFrequently: true}));
    cx.clearRect(0, 0, 1, 1);
    cx.fillStyle = colour || "#c8c8c8";
    cx.fillRect(0, 0, 1, 1);
    var d = cx.getImageData(0, 0, 1, 1).data;
    var a = Math.round(255 * (opacity == null ? 1 : opacity));
    return ((a << 24) | (d[2] << 16) | (d[1] << 8) | d[0]) >>> 0;
  };

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
                                    renderer: new WBCanvas({padding: 0.2})});
    this.renderer = map.options.renderer;
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
      group.on("mouseover", function (e) { self.renderer.wbHover(e.layer); });
      group.on("mouseout", function (e) { self.renderer.wbHover(null); self.hideTip(); });
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
    for (var i = 0; i < feats.length; i++) this.restyle(i, true);
    this.renderer.wbRedraw();
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
  // 1 px, not 1.2: the canvas draws a line of at most 1 px as a hairline, which at 14.500 buurten with 6.800
  // thick borders takes about 10 ms per redraw instead of 70-90 ms (benchmarks/README.md).
  WBMap.prototype.fitBold = function (restyle) {
    var c = this.current;
    if (!c || !c.bounds || !c.bounds.isValid() || !c.layers.length) return;
    var a = this.map.project(c.bounds.getNorthEast()), b = this.map.project(c.bounds.getSouthWest());
    var perArea = Math.sqrt(Math.abs((a.x - b.x) * (a.y - b.y)) / c.layers.length);  // px, a typical area's side
    var w = perArea < 12 ? 1 : perArea < 30 ? 2 : 3;
    if (w === this.boldWeight) return;
    this.boldWeight = w;
    if (restyle && this.view && this.view.bold) {
      for (var i = 0; i < c.layers.length; i++) this.restyle(i, true);
      this.renderer.wbRedraw();
    }
  };

  WBMap.prototype.restyle = function (i, batch) {
    var v = this.view, lyr = this.current && this.current.layers[i];
    if (!v || !lyr) return;
    var c = v.palette[parseInt(v.fill.charAt(i), 36)] || "#c8c8c8";
    var bold = v.bold && v.bold.charAt(i) === "1";
    var o = lyr.options;  // set directly and repaint once (setStyle per area costs 10-20 ms at 14.500)
    o.fillColor = c; o.color = bold ? "#111" : "#666"; o.weight = bold ? this.boldWeight : 0.8;
    if (!batch) this.renderer.wbRedraw();
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
