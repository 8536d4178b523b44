/*
 * A watchlist's page (templates/watchlist.html): sorts the table by the column whose heading is
 * selected, in the page (the server sorts the same way from ?sort=&dir= without this script),
 * and while rows are computing or the list's prices are being refreshed polls the list's
 * rows.json every 2 s (5 min at most); when a row's status changes, or a refresh ends, it
 * fetches the server-rendered rows (?fragment=rows) and swaps in the changed <tr data-ticker>
 * rows: no reload. After "Refresh prices" (data-refreshing="true") it polls for up to
 * REFRESH_WAIT_MS until the queued job is seen running, then until it ends.
 *
 * Contract with the templates:
 *   table#watch-table[data-rows-url][data-fragment-url][data-pending][data-refreshing]
 *     [data-sort][data-dir]
 *   thead th[data-key][data-numeric] a.sort-link span.sort-icon   one per column
 *   tbody#watch-rows tr[data-ticker][data-status][data-sort-<key>]  one per ticker
 *   #watch-status (status line), #csv-link, form.watch-horizon (hidden sort and dir kept)
 */
(function () {
  'use strict';

  var POLL_MS = 2000;
  var POLL_FOR_MS = 5 * 60 * 1000;
  var REFRESH_WAIT_MS = 60 * 1000; // a queued refresh not yet running: poll this long for it
  var table = document.getElementById('watch-table');
  if (!table) { return; }
  var body = document.getElementById('watch-rows');
  var status = document.getElementById('watch-status');

  function rows() { return Array.prototype.slice.call(body.querySelectorAll('tr[data-ticker]')); }

  function heads() { return Array.prototype.slice.call(table.querySelectorAll('thead th[data-key]')); }

  function value(row, key) { return row.getAttribute('data-sort-' + key) || ''; }

  function compare(key, numeric, descending) {
    return function (a, b) {
      var x = value(a, key);
      var y = value(b, key);
      if (x === '' || y === '') { return (x === '') - (y === ''); } // no value: last either way
      var order = numeric ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : x > y ? 1 : 0);
      if (descending) { order = -order; }
      return order || (a.getAttribute('data-ticker') < b.getAttribute('data-ticker') ? -1 : 1);
    };
  }

  function withSort(href, key, dir) {
    var url = new URL(href, window.location.href);
    url.searchParams.set('sort', key);
    url.searchParams.set('dir', dir);
    url.searchParams.delete('new');
    return url.pathname + url.search;
  }

  function sortBy(key, descending) {
    var th = table.querySelector('thead th[data-key="' + key + '"]');
    if (!th) { return; }
    var sorted = rows().sort(compare(key, th.getAttribute('data-numeric') === 'true', descending));
    sorted.forEach(function (row) { body.appendChild(row); });
    table.setAttribute('data-sort', key);
    table.setAttribute('data-dir', descending ? 'desc' : 'asc');
    heads().forEach(function (head) {
      var current = head === th;
      var link = head.querySelector('a.sort-link');
      var icon = head.querySelector('.sort-icon');
      if (current) {
        head.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      } else {
        head.removeAttribute('aria-sort');
      }
      icon.textContent = current ? (descending ? '\u25BC' : '\u25B2') : '\u2195';
      link.setAttribute('href', withSort(link.getAttribute('href'), head.getAttribute('data-key'),
        current && !descending ? 'desc' : 'asc'));
    });
    var dir = descending ? 'desc' : 'asc';
    var csv = document.getElementById('csv-link');
    if (csv) { csv.setAttribute('href', withSort(csv.getAttribute('href'), key, dir)); }
    var form = document.querySelector('form.watch-horizon');
    if (form) {
      ['sort', 'dir'].forEach(function (name) {
        var input = form.querySelector('input[name="' + name + '"]');
        if (!input) {
          input = document.createElement('input');
          input.type = 'hidden';
          input.name = name;
          form.appendChild(input);
        }
        input.value = name === 'sort' ? key : dir;
      });
    }
    // The address says the order, so a reload or a shared link shows the same table.
    window.history.replaceState(null, '', withSort(window.location.href, key, dir));
  }

  table.querySelector('thead').addEventListener('click', function (event) {
    var link = event.target.closest('a.sort-link');
    if (!link) { return; }
    event.preventDefault();
    var key = link.closest('th').getAttribute('data-key');
    var descending = table.getAttribute('data-sort') === key && table.getAttribute('data-dir') !== 'desc';
    sortBy(key, descending);
  });

  function say(text) { if (status) { status.textContent = text; } }

  function swapIn(html, all) {
    var holder = document.createElement('tbody');
    holder.innerHTML = html; // the server's own rendering of this list's rows
    Array.prototype.slice.call(holder.querySelectorAll('tr[data-ticker]')).forEach(function (fresh) {
      var ticker = fresh.getAttribute('data-ticker');
      rows().forEach(function (old) {
        if (old.getAttribute('data-ticker') === ticker &&
            (all || old.getAttribute('data-status') !== fresh.getAttribute('data-status'))) {
          body.replaceChild(fresh.cloneNode(true), old);
        }
      });
    });
    var key = table.getAttribute('data-sort');
    if (key) { sortBy(key, table.getAttribute('data-dir') === 'desc'); }
  }

  function changed(answer) {
    var shown = {};
    rows().forEach(function (row) { shown[row.getAttribute('data-ticker')] = row.getAttribute('data-status'); });
    return answer.rows.some(function (row) { return shown[row.ticker] !== undefined && shown[row.ticker] !== row.status; });
  }

  var started = Date.now();
  var refreshAsked = table.getAttribute('data-refreshing') === 'true';
  var wasRefreshing = false;

  function waitForRefresh(answer) {
    // True while this page's refresh still runs, or is queued and not yet seen running.
    if (answer.refreshing) { wasRefreshing = true; return true; }
    return refreshAsked && !wasRefreshing && Date.now() - started < REFRESH_WAIT_MS;
  }

  function poll() {
    fetch(table.getAttribute('data-rows-url'), { headers: { Accept: 'application/json' } })
      .then(function (response) {
        if (!response.ok) { throw new Error('rows.json answered ' + response.status); }
        return response.json();
      })
      .then(function (answer) {
        var refreshed = wasRefreshing && !answer.refreshing; // new prices: every row may change
        var waiting = waitForRefresh(answer);
        if (refreshed) { refreshAsked = wasRefreshing = false; }
        var next = changed(answer) || refreshed
          ? fetch(table.getAttribute('data-fragment-url')).then(function (r) { return r.text(); })
            .then(function (html) { swapIn(html, refreshed); })
          : Promise.resolve();
        return next.then(function () {
          table.setAttribute('data-pending', String(answer.pending));
          if (answer.pending > 0) {
            say('Computing ' + answer.pending + ' of ' + answer.rows.length + ' rows: they fill in here when ready.');
            schedule();
          } else if (waiting) {
            say('Fetching this list\'s prices: the rows update here when they are stored.');
            schedule();
          } else {
            say('All rows are ready.');
          }
        });
      })
      .catch(function () { schedule(); });
  }

  function schedule() {
    if (Date.now() - started > POLL_FOR_MS) {
      say('Some rows are still computing; reload the page in a few minutes to see them.');
      return;
    }
    window.setTimeout(poll, POLL_MS);
  }

  if (parseInt(table.getAttribute('data-pending'), 10) > 0 || refreshAsked) { schedule(); }
}());
