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
    var wind = document.getElementById("wind-fields");
    var solar = document.getElementById("solar-fields");
    if (wind) { wind.hidden = tech !== "wind"; }
    if (solar) { solar.hidden = tech !== "solar"; }
  }
  for (var r = 0; r < radios.length; r++) { radios[r].addEventListener("change", syncTech); }
  if (radios.length) { syncTech(); }
  // Memo: print button.
  var printButton = document.getElementById("print-button");
  if (printButton) { printButton.addEventListener("click", function () { window.print(); }); }
})();
