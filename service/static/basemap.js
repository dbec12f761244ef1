// Climate Loan Risk: the base of every Leaflet map (vendored Leaflet, no tiles from outside):
// the map itself with its zoom range and attribution, and the province outlines. Used by the
// national map (map.js) and the portfolio map (portfolio_map.js); reads the data-* attributes
// of the map's element.
(function () {
  "use strict";
  if (!window.L) { return; }
  var L = window.L;
  window.ClimateLoanBaseMap = {
    // A map on `el` from data-min-zoom, data-max-zoom and data-attribution; `options` adds to
    // (or overrides) Leaflet's options.
    create: function (el, options) {
      var opts = {
        minZoom: Number(el.getAttribute("data-min-zoom")),
        maxZoom: Number(el.getAttribute("data-max-zoom")),
        attributionControl: true
      };
      Object.keys(options || {}).forEach(function (k) { opts[k] = options[k]; });
      var map = L.map(el, opts);
      map.attributionControl.setPrefix(false);
      map.attributionControl.addAttribution(el.getAttribute("data-attribution"));
      return map;
    },
    // The province outlines (data-provinces: the vendored GeoJSON), drawn as thin lines.
    provinces: function (map, el) {
      return fetch(el.getAttribute("data-provinces"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (geo) {
          return L.geoJSON(geo, { interactive: false, style: { color: "#222", weight: 1, opacity: 0.8, fill: false } }).addTo(map);
        });
    }
  };
})();
