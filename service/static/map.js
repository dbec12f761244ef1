// Climate Loan Risk: the national map (Leaflet, vendored). The layer comes as image tiles from
// the server; province outlines, labels and the place list are small files of our own.
(function () {
  "use strict";
  var el = document.getElementById("national-map");
  if (!el || !window.L || !window.ClimateLoanBaseMap) { return; }
  var L = window.L;
  var base = window.ClimateLoanBaseMap;
  var zh = el.getAttribute("data-lang") === "zh";
  var b = el.getAttribute("data-bounds").split(",").map(Number);
  var bounds = L.latLngBounds([b[0], b[2]], [b[1], b[3]]);
  var minZoom = Number(el.getAttribute("data-min-zoom"));
  var maxZoom = Number(el.getAttribute("data-max-zoom"));
  var map = base.create(el, { maxBounds: bounds.pad(0.5) });
  map.fitBounds(bounds);
  L.tileLayer(el.getAttribute("data-tiles"), {
    bounds: bounds,
    minZoom: minZoom,
    maxZoom: maxZoom,
    tileSize: 256,
    className: "cube-tiles"
  }).addTo(map);

  var latInput = document.getElementById("map-lat");
  var lonInput = document.getElementById("map-lon");
  var info = document.getElementById("picked-info");
  var link = document.getElementById("assess-link");
  var marker = null;
  var asked = 0;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }

  // Picking a site: the coordinates go into the fields and the link to the assessment form.
  function pick(lat, lon, name) {
    lat = Math.round(lat * 10000) / 10000;
    lon = Math.round(lon * 10000) / 10000;
    latInput.value = String(lat);
    lonInput.value = String(lon);
    var params = new URLSearchParams({ lat: String(lat), lon: String(lon), hub_height_m: link.getAttribute("data-hub") });
    link.href = link.getAttribute("data-base") + "?" + params.toString() + "#project";
    var text = fill(el.getAttribute("data-msg-picked"), { lat: lat.toFixed(4), lon: lon.toFixed(4) });
    text = name ? name + " — " + text : text;
    info.textContent = text;
    // the layer's value at the cell, in words (what the tiles show as colour and hatching)
    var ask = ++asked;
    var url = el.getAttribute("data-cell");
    url += (url.indexOf("?") >= 0 ? "&" : "?") + "lat=" + lat + "&lon=" + lon;
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (ask !== asked) { return; }
        info.textContent = c ? text + ". " + c.text : text;
        info.setAttribute("data-status", c ? c.status : "outside");
      });
    if (marker) { marker.setLatLng([lat, lon]); } else {
      marker = L.circleMarker([lat, lon], { radius: 8, weight: 3, color: "#D55E00", fillOpacity: 0, interactive: false }).addTo(map);
    }
  }
  map.on("click", function (ev) { pick(ev.latlng.lat, ev.latlng.lng, null); });
  // Keyboard: the arrow keys pan and +/- zoom (Leaflet); Enter picks the centre of the view.
  map.on("keydown", function (ev) {
    if (ev.originalEvent && ev.originalEvent.key === "Enter") {
      var c = map.getCenter();
      pick(c.lat, c.lng, null);
    }
  });
  // The settled view, for scripts and tests that must wait for a move to end.
  function settled() {
    var c = map.getCenter();
    el.setAttribute("data-zoom", String(map.getZoom()));
    el.setAttribute("data-center", c.lat.toFixed(4) + "," + c.lng.toFixed(4));
  }
  map.on("moveend", settled);
  settled();

  function typedPoint() {
    var lat = Number(latInput.value), lon = Number(lonInput.value);
    if (latInput.value.trim() === "" || lonInput.value.trim() === "") { return; }
    if (!isFinite(lat) || !isFinite(lon) || lat < -90 || lat > 90 || lon < -180 || lon > 180) { return; }
    pick(lat, lon, null);
    map.panTo([lat, lon]);
  }
  latInput.addEventListener("change", typedPoint);
  lonInput.addEventListener("change", typedPoint);

  // Province outlines and labels.
  var labels = L.layerGroup();
  var labelList = [];
  // Small units (the municipalities, Hong Kong, Macao) are labelled from a closer zoom only, so
  // that the labels of the east do not pile up at national scale.
  function showLabels() {
    var z = map.getZoom();
    labelList.forEach(function (label) {
      if (z >= label.minZoom) { labels.addLayer(label); } else { labels.removeLayer(label); }
    });
  }
  base.provinces(map, el);

  // The gazetteer: provinces (labelled) and cities, found by any of their names.
  var places = [];
  function norm(s) {
    return String(s).normalize("NFD").replace(/[\u0300-\u036f]/g, "").trim().toLowerCase()
      .replace(/(维吾尔自治区|壮族自治区|回族自治区|自治区|特别行政区|省|市)$/, "")
      .replace(/\s+/g, " ");
  }
  fetch(el.getAttribute("data-places"), { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (list) {
      places = list;
      var datalist = document.getElementById("place-list");
      list.forEach(function (p) {
        var opt = document.createElement("option");
        opt.value = zh ? p.zh : p.en;
        opt.label = zh ? p.en : p.zh;
        datalist.appendChild(opt);
        if (p.kind === "province") {
          var span = document.createElement("span");
          span.textContent = zh ? p.zh : p.en;
          span.setAttribute("lang", zh ? "zh-CN" : "en");
          var label = L.marker([p.lat, p.lon], {
            icon: L.divIcon({ className: "province-label", html: span, iconSize: null }),
            interactive: false,
            keyboard: false
          });
          label.minZoom = p.min_zoom || minZoom;
          labelList.push(label);
        }
      });
      labels.addTo(map);
      showLabels();
      map.on("zoomend", showLabels);
      el.setAttribute("data-places-loaded", String(list.length));
    })
    .catch(function () { document.getElementById("place-status").textContent = el.getAttribute("data-msg-notfound"); });

  function find(text) {
    var q = norm(text);
    if (!q) { return null; }
    var names = function (p) { return [p.en, p.zh].concat(p.aliases || []).map(norm); };
    var exact = places.filter(function (p) { return names(p).indexOf(q) >= 0; });
    if (exact.length) { return exact[0]; }
    var starts = places.filter(function (p) { return names(p).some(function (n) { return n.indexOf(q) === 0; }); });
    return starts.length ? starts[0] : null;
  }

  var status = document.getElementById("place-status");
  document.getElementById("place-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var p = find(document.getElementById("place").value);
    if (!p) { status.textContent = el.getAttribute("data-msg-notfound"); return; }
    var name = zh ? p.zh : p.en;
    status.textContent = fill(el.getAttribute("data-msg-found"), { name: name });
    map.setView([p.lat, p.lon], p.kind === "province" ? 6 : 9);
    pick(p.lat, p.lon, name);
  });
})();
