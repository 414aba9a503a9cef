// Runs in the wrapper page (tests/browser_wrapper.html) around the report, for tests/browser.py: `probe`
// measures the layout (closed sections, then all sections open), reads the values the test compares, then acts
// on the page as a user would; `start` runs the action the wrapper names once the report has loaded.
function probe(f, filterText) {
  var w = f.contentWindow, d = f.contentDocument, out = {};
  function clipped(el) {
    for (var a = el.parentElement; a && a !== d.body; a = a.parentElement) {
      if (w.getComputedStyle(a).overflowX !== 'visible') return true;
    }
    return false;
  }
  function layout() {
    var wide = [];
    d.querySelectorAll('body *').forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > w.innerWidth + 0.5 && !clipped(el)) {
        wide.push(el.tagName + (el.id ? '#' + el.id : '') + (el.className && el.className.baseVal === undefined
          ? '.' + el.className : '') + ' right=' + Math.round(r.right));
      }
    });
    return {innerWidth: w.innerWidth, scrollWidth: d.documentElement.scrollWidth, overflowing: wide.slice(0, 20),
            height: d.documentElement.scrollHeight};
  }
  function column(list, key) {
    return Array.prototype.map.call(d.querySelectorAll('#' + list + ' tbody tr'), function (tr) {
      return tr.querySelector('td.' + key).getAttribute('data-v');
    });
  }
  out.closed = layout();
  out.text = d.body.innerText;
  var cov = d.getElementById('national-coverage');
  out.coverage = cov && cov.getAttribute('data-value');
  out.mapProvinces = Array.prototype.map.call(d.querySelectorAll('#map rect[data-province]'),
    function (r) { return r.getAttribute('data-province'); });
  out.mapNoData = d.querySelectorAll('#map rect[data-no-data]').length;
  out.mapTitles = Array.prototype.map.call(d.querySelectorAll('#map rect[data-province] title'),
    function (t) { return t.textContent; });
  out.quarantine = Array.prototype.map.call(d.querySelectorAll('tr[data-quarantine-province]'), function (tr) {
    return [tr.getAttribute('data-quarantine-province'), tr.getAttribute('data-source'),
            tr.getAttribute('data-reason'), Number(tr.getAttribute('data-rows'))];
  });
  out.enumerators = Array.prototype.map.call(d.querySelectorAll('#enumerator-list tbody tr'),
    function (tr) { return tr.getAttribute('data-enumerator'); });
  d.querySelectorAll('details').forEach(function (x) { x.open = true; });
  out.open = layout();
  d.querySelectorAll('details').forEach(function (x) { x.open = false; });
  var first = d.querySelector('details.province');
  if (first) { first.open = true; out.firstOpenHeight = d.documentElement.scrollHeight; first.open = false; }
  var th = d.querySelector('#regency-list th[data-sort="households"]');
  if (th) {
    th.click(); out.sortedUp = column('regency-list', 'households');
    th.click(); out.sortedDown = column('regency-list', 'households');
  }
  var box = d.querySelector('#enumerator-list input.search');
  if (box && filterText) {
    box.value = filterText;
    box.dispatchEvent(new w.Event('input', {bubbles: true}));
    box.dispatchEvent(new w.KeyboardEvent('keyup', {bubbles: true}));
    out.filtered = Array.prototype.map.call(d.querySelectorAll('#enumerator-list tbody tr'),
      function (tr) { return tr.getAttribute('data-enumerator'); });
  }
  var button = d.querySelector('[data-metric-button="match"]');
  if (button) {
    button.click();
    out.toggled = Array.prototype.every.call(d.querySelectorAll('#map rect[data-province]'), function (r) {
      return r.getAttribute('fill') === r.getAttribute('data-fill-match')
        && r.querySelector('title').textContent.indexOf('match rate') >= 0;
    });
  }
  return out;
}

function start(action) {
  var f = document.getElementById('f');
  f.addEventListener('load', function () {
    setTimeout(function () {
      if (action.run === 'probe') {
        var out;
        try { out = probe(f, action.filter); } catch (e) { out = {error: String(e) + ' ' + e.stack}; }
        document.getElementById('out').textContent = JSON.stringify(out);
      } else {  // a screenshot: the first province open, the frame as tall as the page
        var s = f.contentDocument.querySelector('details.province');
        if (s) s.open = true;
        f.style.height = f.contentDocument.documentElement.scrollHeight + 'px';
      }
    }, 200);
  });
}
