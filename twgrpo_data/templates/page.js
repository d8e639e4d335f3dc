// Filters and search of the item list. The items' filter fields come from the JSON block #page-data; the
// rows themselves were rendered (escaped) on the server side and are searched by their text, so this script
// never writes HTML.
(function () {
  "use strict";
  var source = document.getElementById("page-data");
  var items = source ? (JSON.parse(source.textContent).items || []) : [];
  var list = document.getElementById("items");
  if (!list) { return; }
  var rows = {};
  Array.prototype.forEach.call(list.querySelectorAll("[data-key]"), function (el) {
    rows[el.getAttribute("data-key")] = el;
  });
  var filters = Array.prototype.slice.call(document.querySelectorAll("[data-filter]"));
  var search = document.getElementById("search");
  var shown = document.getElementById("shown");
  var lowered = items.map(function (item) {
    return rows[item.key] ? rows[item.key].textContent.toLowerCase() : "";
  });

  function apply() {
    var query = search ? search.value.trim().toLowerCase() : "";
    var count = 0;
    items.forEach(function (item, i) {
      var ok = filters.every(function (f) {
        return !f.value || String(item[f.getAttribute("data-filter")]) === f.value;
      });
      if (ok && query) { ok = lowered[i].indexOf(query) !== -1; }
      var row = rows[item.key];
      if (row) { row.hidden = !ok; }
      if (ok) { count += 1; }
    });
    if (shown) { shown.textContent = String(count); }
  }

  function openAll(open) {
    Object.keys(rows).forEach(function (key) { if (!rows[key].hidden) { rows[key].open = open; } });
  }

  // a link to a sample (the disagreements table) shows it even when the filters hide it, and opens it
  function reveal(id) {
    var row = document.getElementById(id);
    if (!row || !list.contains(row)) { return; }
    if (row.hidden) {
      filters.forEach(function (f) { f.value = ""; });
      if (search) { search.value = ""; }
      apply();
    }
    row.open = true;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
    if (link) { reveal(link.getAttribute("href").slice(1)); }
  });
  if (location.hash) { reveal(decodeURIComponent(location.hash.slice(1))); }

  filters.forEach(function (f) { f.addEventListener("change", apply); });
  if (search) { search.addEventListener("input", apply); }
  var expand = document.getElementById("expand-all");
  var collapse = document.getElementById("collapse-all");
  if (expand) { expand.addEventListener("click", function () { openAll(true); }); }
  if (collapse) { collapse.addEventListener("click", function () { openAll(false); }); }
  apply();
}());
