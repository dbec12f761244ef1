// Climate Loan Risk: small progressive enhancements. Every page works without this script.
(function () {
  "use strict";
  // Map: a click (or Enter on a focused cell) copies the cell centre into the form instead of
  // reloading the page, so that fields already typed are kept.
  var map = document.getElementById("map");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  if (map && lat && lon) {
    map.addEventListener("click", function (ev) {
      var cell = ev.target.closest ? ev.target.closest("a.cell") : null;
      if (!cell) { return; }
      ev.preventDefault();
      lat.value = cell.getAttribute("data-lat");
      lon.value = cell.getAttribute("data-lon");
      var old = map.querySelectorAll("a.cell.selected");
      for (var i = 0; i < old.length; i++) { old[i].classList.remove("selected"); }
      cell.classList.add("selected");
      var info = document.getElementById("cell-info");
      if (info) { info.textContent = cell.getAttribute("aria-label"); }
      lat.dispatchEvent(new Event("change"));
    });
  }
  // Technology: show the wind or the solar fields only.
  var radios = document.querySelectorAll("input[name=technology]");
  function syncTech() {
    var tech = "wind";
    for (var i = 0; i < radios.length; i++) { if (radios[i].checked) { tech = radios[i].value; } }
    var parts = document.querySelectorAll(".tech-wind, .tech-solar");
    for (var j = 0; j < parts.length; j++) {
      parts[j].hidden = !parts[j].classList.contains("tech-" + tech);
    }
  }
  // Risk drivers: the placeholders show the defaults of the chosen lending product.
  var driverBox = document.getElementById("driver-fields");
  var policySelect = document.getElementById("policy");
  function syncDrivers() {
    if (!driverBox) { return; }
    var data = JSON.parse(driverBox.getAttribute("data-defaults") || "{}");
    var tech = "wind";
    for (var i = 0; i < radios.length; i++) { if (radios[i].checked) { tech = radios[i].value; } }
    var pid = (policySelect && policySelect.value) || (data["default"] || {})[tech] || "";
    var values = (data.policies || {})[pid] || {};
    var inputs = driverBox.querySelectorAll("input[data-driver]");
    for (var k = 0; k < inputs.length; k++) {
      var v = values[inputs[k].getAttribute("data-driver")];
      inputs[k].placeholder = v === null || v === undefined ? "" : String(v);
    }
  }
  if (policySelect) { policySelect.addEventListener("change", syncDrivers); }
  for (var r = 0; r < radios.length; r++) {
    radios[r].addEventListener("change", syncTech);
    radios[r].addEventListener("change", syncDrivers);
  }
  if (radios.length) { syncTech(); syncDrivers(); }
  // Memo: print button.
  var printButton = document.getElementById("print-button");
  if (printButton) { printButton.addEventListener("click", function () { window.print(); }); }
})();
