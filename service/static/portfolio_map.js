// Climate Loan Risk: the map of a finished portfolio run. One circle per loan site (per data
// cell when loans share one): its area is proportional to the exposure, its fill and the
// number on it give the class of the site's share of the 99th-percentile loss. The points come
// from the run's map.json; the base (Leaflet, province outlines) is basemap.js.
(function () {
  "use strict";
  var el = document.getElementById("portfolio-map");
  if (!el || !window.L || !window.ClimateLoanBaseMap) { return; }
  var L = window.L;
  var base = window.ClimateLoanBaseMap;
  var map = base.create(el, {});
  map.setView([36, 104], Number(el.getAttribute("data-min-zoom")));
  base.provinces(map, el);

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }
  var number = new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: 0 });

  fetch(el.getAttribute("data-points"), { credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
    .then(function (data) {
      var points = data.points;
      if (!points.length) { return; }
      var top = points[0].exposure;
      var sites = L.featureGroup();
      // the largest first, so that small circles lie on top of big ones and stay clickable
      points.forEach(function (p, n) {
        var radius = data.max_radius_px * Math.sqrt(p.exposure / top);
        var text = fill(el.getAttribute("data-msg-site"), {
          loans: p.loan_ids.join(", "),
          exposure: number.format(p.exposure),
          share: (100 * p.share).toFixed(1),
          cls: String(p["class"])
        });
        var circle = L.circleMarker([p.lat, p.lon], {
          radius: radius,
          weight: 1.5,
          color: "#222",
          fillColor: p.colour,
          fillOpacity: 0.85,
          className: "pf-site"
        }).bindTooltip(text);
        sites.addLayer(circle);
        circle.on("add", function () {
          var path = circle.getElement();
          path.setAttribute("data-exposure", String(p.exposure));
          path.setAttribute("data-class", String(p["class"]));
          path.setAttribute("data-loans", p.loan_ids.join(" "));
          path.setAttribute("data-rank", String(n));
          path.setAttribute("aria-label", text);
        });
        // the class as a number on the circle: the map reads without colour
        sites.addLayer(L.marker([p.lat, p.lon], {
          icon: L.divIcon({ className: "pf-site-label pf-class-" + p["class"], html: "<span>" + p["class"] + "</span>", iconSize: null }),
          interactive: false,
          keyboard: false
        }));
      });
      sites.addTo(map);
      map.fitBounds(sites.getBounds().pad(0.3), { maxZoom: 8 });
      el.setAttribute("data-sites", String(points.length));
    })
    .catch(function (err) {
      el.setAttribute("data-sites", "error");
      document.getElementById("pf-map-status").textContent = fill(el.getAttribute("data-msg-error"), { status: err.message });
    });
})();
