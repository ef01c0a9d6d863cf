/* hatangso: villages, sites and shared towers drawn on canvases from one compact payload.
 *
 * Part of hatangso (same licence). A national map has 100,000 villages and 120,000 sites:
 * one Leaflet object per feature would take seconds to build and a page of a hundred
 * megabytes. Here the page carries one payload (see hatangso.scenarios.mapdata):
 *
 *   a script element of type application/octet-stream holding the base64 of a zlib stream
 *
 * Inflated, it is a uint32 (little-endian) length, a JSON header of that many UTF-8 bytes,
 * padding to 4 bytes, then the typed arrays the header lists ({name, type, offset, length}).
 * Coordinates are integers of 1e-5 degree, delta-coded; statuses (coverage and dispute bits,
 * a challenge's status and the switch-off step that takes a village's service, each as a
 * code into a table) are bytes; texts arrive
 * already HTML-escaped (they are inserted as markup) and as a table of distinct values plus
 * one code per feature.
 *
 * Each layer draws its own canvas: villages as circles, sites clustered on a pixel grid below
 * the cluster zoom and one by one above it, shared towers as rings. A click on a village opens
 * its popup, built then from the table; a click on a cluster zooms in; hovering a site or a
 * tower shows its tooltip. window.hatangsoReady turns true once every village layer on the map
 * has drawn its data (window.hatangsoReadyMs: milliseconds since navigation start).
 */
(function () {
  'use strict';

  var TYPES = {i4: Int32Array, u1: Uint8Array, f4: Float32Array};
  // Village fields packed as one byte per village (0: none, else 1 + the place of the value in
  // header.villages[field].levels), and the status of the layer drawing the villages with one.
  var BYTE_FIELDS = {challenge: 'challenged', switch_off: 'switch_off'};
  var loads = {};
  var pending = [];

  function bytesOf(text) {
    var raw = atob(text.replace(/\s+/g, ''));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function inflate(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
    return new Response(stream).arrayBuffer();
  }

  function unpack(buffer) {
    var length = new DataView(buffer).getUint32(0, true);
    var header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
    var arrays = {};
    header.arrays.forEach(function (a) {
      if (a.type === 'i4s') {
        // int32, zigzag-coded, stored as byte planes: all first bytes, then all second ...
        var n = a.length, b = new Uint8Array(buffer, a.offset, 4 * n), out = new Int32Array(n);
        for (var i = 0; i < n; i++) {
          var z = (b[i] | (b[n + i] << 8) | (b[2 * n + i] << 16) | (b[3 * n + i] << 24)) >>> 0;
          out[i] = (z >>> 1) ^ -(z & 1);
        }
        arrays[a.name] = out;
      } else {
        arrays[a.name] = new TYPES[a.type](buffer, a.offset, a.length);
      }
    });
    return {header: header, arrays: arrays};
  }

  // Delta-coded integers of 1/scale degree back to degrees, and to Web Mercator pixels at zoom 0.
  function place(set, arrays, prefix, scale) {
    var dx = arrays[prefix + '_dx'], dy = arrays[prefix + '_dy'], n = dx.length;
    var lon = new Float64Array(n), lat = new Float64Array(n);
    var wx = new Float64Array(n), wy = new Float64Array(n);
    var ax = 0, ay = 0;
    for (var i = 0; i < n; i++) {
      ax += dx[i];
      ay += dy[i];
      lon[i] = ax / scale;
      lat[i] = ay / scale;
      wx[i] = 256 * (0.5 + lon[i] / 360);
      var s = Math.sin(Math.max(Math.min(lat[i], 85.0511287798), -85.0511287798) * Math.PI / 180);
      wy[i] = 256 * (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI));
    }
    set.lon = lon; set.lat = lat; set.wx = wx; set.wy = wy; set.n = n;
  }

  // A browser without DecompressionStream (before 2023) cannot read the payload: say so.
  function tooOld() {
    var note = document.createElement('div');
    note.className = 'hts-box';
    note.style.cssText = 'position:absolute;top:50px;left:50%;transform:translateX(-50%);' +
      'z-index:1000;font-weight:bold';
    note.textContent = 'Trình duyệt quá cũ để vẽ bản đồ này / ' +
      'This browser is too old to draw this map (it needs DecompressionStream).';
    document.body.appendChild(note);
    return new Promise(function () {});
  }

  function load(id) {
    if (!loads[id] && typeof DecompressionStream === 'undefined') loads[id] = tooOld();
    if (!loads[id]) {
      var element = document.getElementById(id);
      loads[id] = inflate(bytesOf(element.textContent)).then(function (buffer) {
        var data = unpack(buffer), header = data.header;
        var out = {header: header, arrays: data.arrays};
        ['villages', 'sites', 'towers'].forEach(function (kind) {
          if (header[kind]) {
            out[kind] = {meta: header[kind]};
            place(out[kind], data.arrays, kind, header.scale);
          }
        });
        return out;
      });
    }
    return loads[id];
  }

  function column(data, kind, field, i) {
    if (BYTE_FIELDS.hasOwnProperty(field.kind)) {
      var code = data.arrays['villages_' + field.kind][i];
      return code ? data.villages.meta[field.kind].levels[code - 1] : '';
    }
    var values = data.arrays[kind + '_' + field.column];
    if (field.kind === 'number') {
      var x = values[i];
      if (field.scale) return x === -2147483648 ? '' : (x / field.scale).toFixed(field.decimals);
      return isNaN(x) ? '' : x.toFixed(field.decimals);
    }
    var code = values[i];
    return code < 0 ? '' : field.levels[code];
  }

  function villagePopup(data, i) {
    var rows = data.villages.meta.fields.map(function (field) {
      return '<tr><th>' + field.label + '</th><td>' + column(data, 'villages', field, i) +
        '</td></tr>';
    });
    return '<table class="hts-popup">' + rows.join('') + '</table>';
  }

  function siteTooltip(data, i) {
    var meta = data.sites.meta, arrays = data.arrays;
    var op = meta.operators[arrays.sites_operator[i]].name;
    var id = column(data, 'sites', meta.site_id, i);
    var tech = column(data, 'sites', meta.tech, i);
    return op + ' ' + id + ' (' + tech + ')';
  }

  function towerTooltip(data, i) {
    var meta = data.towers.meta;
    return meta.prefix + column(data, 'towers', meta.operators, i);
  }

  function markReady(layer) {
    var at = pending.indexOf(layer);
    if (at >= 0) pending.splice(at, 1);
    if (pending.length === 0 && !window.hatangsoReady) {
      window.hatangsoReadyMs = performance.now();
      window.hatangsoReady = true;
    }
  }

  // One click and hover handler per map, over the layers that `accept`: the circle under the
  // pointer in the upper layer (the one the user sees), else the nearest circle within reach,
  // else the cluster under the pointer.
  function hit(map, point, accept) {
    var layers = map._htsLayers || [], best = null;
    for (var k = layers.length - 1; k >= 0; k--) {
      var found = layers[k]._hit(point);
      if (!found || !(found.cluster || accept(found.layer))) continue;
      if (found.distance <= found.radius) return found;
      if (!best || found.distance < best.distance) best = found;
    }
    return best;
  }

  function clickable(layer) { return layer.options.kind === 'villages'; }
  function hoverable(layer) { return layer.options.kind !== 'villages'; }
  function any() { return true; }

  function watch(map) {
    if (map._htsLayers) return;
    map._htsLayers = [];
    var tooltip = L.tooltip({direction: 'top', offset: [0, -6]});
    var frame = null, last = null;
    map.on('click', function (e) {
      var found = hit(map, e.containerPoint, clickable);
      if (found) found.layer._activate(found, e);
    });
    map.on('mousemove', function (e) {
      last = e.containerPoint;
      if (frame) return;
      frame = L.Util.requestAnimFrame(function () {
        frame = null;
        map.getContainer().style.cursor = last && hit(map, last, any) ? 'pointer' : '';
        var found = last && hit(map, last, hoverable);
        var text = found && found.layer._tooltip(found);
        if (text) {
          tooltip.setLatLng(found.latlng).setContent(text);
          if (!map.hasLayer(tooltip)) map.openTooltip(tooltip);
        } else if (map.hasLayer(tooltip)) {
          map.closeTooltip(tooltip);
        }
      });
    });
    map.on('mouseout', function () {
      if (map.hasLayer(tooltip)) map.closeTooltip(tooltip);
    });
  }

  var PointLayer = L.Layer.extend({
    options: {
      pane: 'overlayPane',
      kind: 'villages',
      status: null,
      operator: null,
      radius: 4,
      fill: true,
      fillColor: '#3388ff',
      fillOpacity: 0.8,
      color: '#000000',
      weight: 1,
      opacity: 1,
      dashArray: null,
      shrink: false,
      clusterBelow: 0,
      clusterPixels: 40,
      padding: 0.3
    },

    initialize: function (source, options) {
      L.setOptions(this, options);
      this._source = source;
      this._data = null;
      this._index = null;
      this._drawn = {x: new Float32Array(0), y: new Float32Array(0), i: new Uint32Array(0), n: 0};
      this._clusters = [];
    },

    onAdd: function (map) {
      watch(map);
      map._htsLayers.push(this);
      this._canvas = L.DomUtil.create('canvas', 'leaflet-zoom-hide hts-canvas');
      this._canvas.style.pointerEvents = 'none';
      this.getPane().appendChild(this._canvas);
      map.on('moveend zoomend resize viewreset', this._schedule, this);
      var layer = this;
      if (this.options.kind === 'villages' && !this._data) pending.push(this);
      load(this._source).then(function (data) {
        layer._data = data;
        layer._index = layer._select(data);
        if (layer._map) layer._redraw();
      });
      if (this._data) this._redraw();
    },

    onRemove: function (map) {
      map.off('moveend zoomend resize viewreset', this._schedule, this);
      var at = map._htsLayers.indexOf(this);
      if (at >= 0) map._htsLayers.splice(at, 1);
      L.DomUtil.remove(this._canvas);
      this._canvas = null;
    },

    // The indices of the features this layer draws.
    _select: function (data) {
      var o = this.options, set = data[o.kind], chosen = [];
      if (!set) return new Uint32Array(0);
      if (o.kind === 'villages') {
        var status = data.arrays.villages_status;
        for (var field in BYTE_FIELDS) {
          if (!BYTE_FIELDS.hasOwnProperty(field) || o.status !== BYTE_FIELDS[field]) continue;
          var codes = data.arrays['villages_' + field];
          for (var c = 0; codes && c < set.n; c++) if (codes[c]) chosen.push(c);
          return Uint32Array.from(chosen);
        }
        for (var i = 0; i < set.n; i++) {
          var s = status[i];
          if ((o.status === 'covered' && (s & 1)) || (o.status === 'uncovered' && !(s & 1)) ||
              (o.status === 'disputed' && (s & 2))) {
            chosen.push(i);
          }
        }
        return Uint32Array.from(chosen);
      }
      if (o.kind === 'sites') {
        var range = set.meta.operators[o.operator];
        var out = new Uint32Array(range.end - range.start);
        for (var j = 0; j < out.length; j++) out[j] = range.start + j;
        return out;
      }
      var all = new Uint32Array(set.n);
      for (var k = 0; k < set.n; k++) all[k] = k;
      return all;
    },

    _schedule: function () {
      if (this._frame) return;
      this._frame = L.Util.requestAnimFrame(function () {
        this._frame = null;
        if (this._map) this._redraw();
      }, this);
    },

    _redraw: function () {
      var map = this._map, o = this.options, canvas = this._canvas;
      var size = map.getSize(), pad = size.multiplyBy(o.padding).round();
      var ratio = window.devicePixelRatio || 1;
      var width = size.x + 2 * pad.x, height = size.y + 2 * pad.y;
      L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([-pad.x, -pad.y]));
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      canvas.style.width = width + 'px';
      canvas.style.height = height + 'px';
      var ctx = canvas.getContext('2d');
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.clearRect(0, 0, width, height);
      if (!this._data) return;
      var zoom = map.getZoom(), scale = Math.pow(2, zoom);
      var origin = map.project(map.containerPointToLatLng([-pad.x, -pad.y]), zoom);
      this._offset = {x: origin.x, y: origin.y, pad: pad, scale: scale};
      if (o.clusterBelow && zoom < o.clusterBelow) {
        this._drawClusters(ctx, width, height);
      } else {
        this._drawPoints(ctx, width, height, zoom);
      }
      if (o.kind === 'villages') markReady(this);
    },

    // Layers asked to shrink (the many covered villages) draw smaller circles below zoom 8.
    _radius: function (zoom) {
      var r = this.options.radius;
      return zoom < 8 && this.options.shrink ? Math.max(2, r * 0.6) : r;
    },

    _drawPoints: function (ctx, width, height, zoom) {
      var o = this.options, set = this._data[o.kind], idx = this._index;
      var f = this._offset, r = this._radius(zoom);
      var xs = new Float32Array(idx.length), ys = new Float32Array(idx.length);
      var kept = new Uint32Array(idx.length), n = 0;
      ctx.beginPath();
      for (var k = 0; k < idx.length; k++) {
        var i = idx[k];
        var x = set.wx[i] * f.scale - f.x, y = set.wy[i] * f.scale - f.y;
        if (x < -r || y < -r || x > width + r || y > height + r) continue;
        ctx.moveTo(x + r, y);
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        xs[n] = x - f.pad.x; ys[n] = y - f.pad.y; kept[n] = i; n++;
      }
      if (o.fill) {
        ctx.globalAlpha = o.fillOpacity;
        ctx.fillStyle = o.fillColor;
        ctx.fill();
      }
      if (o.weight > 0) {
        ctx.globalAlpha = o.opacity;
        ctx.lineWidth = o.weight;
        ctx.strokeStyle = o.color;
        ctx.setLineDash(o.dashArray || []);
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
      this._drawn = {x: xs, y: ys, i: kept, n: n, r: r};
      this._clusters = [];
    },

    _drawClusters: function (ctx, width, height) {
      var o = this.options, set = this._data[o.kind], idx = this._index, f = this._offset;
      var cell = o.clusterPixels, slots = new Map();
      var sx = [], sy = [], count = [], first = [];
      for (var k = 0; k < idx.length; k++) {
        var i = idx[k];
        var px = set.wx[i] * f.scale, py = set.wy[i] * f.scale;
        var x = px - f.x, y = py - f.y;
        if (x < -cell || y < -cell || x > width + cell || y > height + cell) continue;
        var key = Math.floor(px / cell) * 4194304 + Math.floor(py / cell);
        var slot = slots.get(key);
        if (slot === undefined) {
          slot = count.length;
          slots.set(key, slot);
          sx.push(0); sy.push(0); count.push(0); first.push(i);
        }
        sx[slot] += x; sy[slot] += y; count[slot] += 1;
      }
      var clusters = [], singles = [];
      ctx.font = 'bold 11px sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      for (var c = 0; c < count.length; c++) {
        var cx = sx[c] / count[c], cy = sy[c] / count[c];
        if (count[c] === 1) {
          singles.push(first[c]);
          continue;
        }
        var r = 9 + 3 * Math.log10(count[c]);
        ctx.beginPath();
        ctx.arc(cx, cy, r + 3, 0, 2 * Math.PI);
        ctx.globalAlpha = 0.35;
        ctx.fillStyle = o.fillColor;
        ctx.fill();
        ctx.beginPath();
        ctx.arc(cx, cy, r, 0, 2 * Math.PI);
        ctx.globalAlpha = 0.85;
        ctx.fill();
        ctx.globalAlpha = 1;
        ctx.fillStyle = '#ffffff';
        ctx.fillText(String(count[c]), cx, cy);
        clusters.push({x: cx - f.pad.x, y: cy - f.pad.y, r: r + 3, n: count[c]});
      }
      // Lone sites are drawn as sites (and can be hovered); the rest as the clusters above.
      var all = this._index;
      this._index = Uint32Array.from(singles);
      this._drawPoints(ctx, width, height, this._map.getZoom());
      this._index = all;
      this._clusters = clusters;
    },

    // The feature (or cluster) under a container point, if any.
    _hit: function (point) {
      if (!this._data || !this._offset) return null;
      var d = this._drawn, best = -1, bestDistance = Infinity, reach = (d.r || 4) + 3;
      for (var k = 0; k < d.n; k++) {
        var dx = d.x[k] - point.x, dy = d.y[k] - point.y, dist = dx * dx + dy * dy;
        if (dist < bestDistance) { bestDistance = dist; best = k; }
      }
      if (best >= 0 && bestDistance <= reach * reach) {
        var set = this._data[this.options.kind], i = d.i[best];
        return {
          layer: this, index: i, distance: Math.sqrt(bestDistance), radius: d.r,
          latlng: L.latLng(set.lat[i], set.lon[i])
        };
      }
      for (var c = 0; c < this._clusters.length; c++) {
        var cl = this._clusters[c], cx = cl.x - point.x, cy = cl.y - point.y;
        if (cx * cx + cy * cy <= cl.r * cl.r) {
          return {
            layer: this, cluster: cl, distance: Infinity, radius: 0,
            latlng: this._map.containerPointToLatLng([cl.x, cl.y])
          };
        }
      }
      return null;
    },

    _activate: function (found) {
      var map = this._map;
      if (found.cluster) {
        map.setView(found.latlng, Math.min(map.getZoom() + 2, this.options.clusterBelow));
      } else if (this.options.kind === 'villages') {
        L.popup({maxWidth: 360}).setLatLng(found.latlng)
          .setContent(villagePopup(this._data, found.index)).openOn(map);
      }
    },

    _tooltip: function (found) {
      if (found.cluster) return String(found.cluster.n) + ' ' + this.options.label;
      if (this.options.kind === 'sites') return siteTooltip(this._data, found.index);
      if (this.options.kind === 'towers') return towerTooltip(this._data, found.index);
      return null;
    }
  });

  window.hatangso = {
    points: function (source, options) { return new PointLayer(source, options); },
    load: load
  };
})();
