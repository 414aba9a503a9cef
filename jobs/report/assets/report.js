// The report page's behaviour, inlined by jobs/report/templates/page.html: the map's measure buttons,
// opening the province section a link points at, and list.js on every table with data-list (sorting, filtering).
(function () {
  var map = document.getElementById('map');
  function show(metric) {
    if (!map) return;
    map.setAttribute('data-metric', metric);
    map.querySelectorAll('rect[data-province]').forEach(function (r) {
      r.setAttribute('fill', r.getAttribute('data-fill-' + metric));
      r.querySelector('title').textContent = r.getAttribute('data-title-' + metric);
      var v = r.parentNode.querySelector('text.val');
      if (v) v.textContent = r.getAttribute('data-value-' + metric);
    });
    document.querySelectorAll('[data-legend]').forEach(function (l) {
      l.hidden = l.getAttribute('data-legend') !== metric;
    });
    document.querySelectorAll('[data-metric-button]').forEach(function (b) {
      b.setAttribute('aria-pressed', String(b.getAttribute('data-metric-button') === metric));
    });
  }
  document.querySelectorAll('[data-metric-button]').forEach(function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-metric-button')); });
  });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === 'DETAILS') { el.open = true; el.scrollIntoView(); }
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
  if (typeof List === 'undefined') return;
  document.querySelectorAll('[data-list]').forEach(function (box) {
    var cfg = JSON.parse(box.getAttribute('data-list'));
    var numeric = {};
    cfg.numeric.forEach(function (k) { numeric[k] = true; });
    new List(box.id, {
      valueNames: cfg.values,
      sortFunction: function (a, b, options) {
        var x = a.values()[options.valueName], y = b.values()[options.valueName];
        if (numeric[options.valueName]) {
          var nx = parseFloat(x), ny = parseFloat(y);
          nx = isNaN(nx) ? -Infinity : nx; ny = isNaN(ny) ? -Infinity : ny;
          return nx < ny ? -1 : nx > ny ? 1 : 0;
        }
        return String(x).localeCompare(String(y), undefined, {numeric: true, sensitivity: 'base'});
      }
    });
    box.querySelectorAll('th.sort').forEach(function (th) {
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); th.click(); }
      });
    });
  });
})();
