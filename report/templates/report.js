// plantwin plan report: filters by family, site and product; state kept in the URL hash (#family=...&site=...).
(function () {
  "use strict";
  var KEYS = ["family", "site", "product"];
  var select = {};
  KEYS.forEach(function (k) { select[k] = document.getElementById("filter-" + k); });

  function readHash() {
    var state = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var kv = part.split("=");
      if (kv.length === 2 && KEYS.indexOf(kv[0]) >= 0) { state[kv[0]] = decodeURIComponent(kv[1]); }
    });
    return state;
  }

  function matches(el, state) {
    return KEYS.every(function (k) {
      var want = state[k], have = el.getAttribute("data-" + k);
      return !want || have === null || have.split(" ").indexOf(want) >= 0;
    });
  }

  function apply(state) {
    KEYS.forEach(function (k) { select[k].value = state[k] || ""; });
    // products offered: those of the chosen family
    Array.prototype.forEach.call(select.product.options, function (o) {
      o.hidden = !!(state.family && o.value && o.getAttribute("data-family") !== state.family);
    });
    var charts = 0, rows = 0;
    Array.prototype.forEach.call(document.querySelectorAll(".f"), function (el) {
      var ok = matches(el, state);
      if (ok) { el.removeAttribute("hidden"); } else { el.setAttribute("hidden", ""); }
      if (ok && el.classList.contains("chart")) { charts += 1; }
      if (ok && el.tagName === "TR") { rows += 1; }
    });
    document.getElementById("shown").textContent = charts + " charts, " + rows + " table rows shown";
    document.body.setAttribute("data-filtered", KEYS.filter(function (k) { return state[k]; }).join(" "));
  }

  function fromSelects() {
    var state = {};
    KEYS.forEach(function (k) { if (select[k].value) { state[k] = select[k].value; } });
    if (state.product && state.family) {
      var opt = select.product.selectedOptions[0];
      if (opt && opt.getAttribute("data-family") !== state.family) { delete state.product; }
    }
    var hash = KEYS.filter(function (k) { return state[k]; })
      .map(function (k) { return k + "=" + encodeURIComponent(state[k]); }).join("&");
    history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    apply(state);
  }

  KEYS.forEach(function (k) { select[k].addEventListener("change", fromSelects); });
  document.getElementById("filter-reset").addEventListener("click", function () {
    KEYS.forEach(function (k) { select[k].value = ""; });
    fromSelects();
  });
  window.addEventListener("hashchange", function () { apply(readHash()); });
  apply(readHash());
})();
