// The dashboard's page script (served as a file: the page allows no inline script).
// Live parts over server-sent events, the traffic chart (uPlot), the CSRF token on every
// htmx request, copy buttons. It keeps nothing in localStorage or sessionStorage.
(function () {
  'use strict';

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';

  // Every change htmx sends carries the session's CSRF token.
  document.addEventListener('htmx:configRequest', function (e) {
    if (csrf) e.detail.headers['X-CSRF-Token'] = csrf;
  });

  // A session that ended sends the browser to the login page.
  document.addEventListener('htmx:responseError', function (e) {
    if (e.detail.xhr && e.detail.xhr.status === 401) window.location.assign('/dashboard/login?expired=1');
  });

  function text(el, value) {
    if (el) el.textContent = String(value);
  }

  function cell(row, value, cls) {
    var td = document.createElement('td');
    td.textContent = String(value);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function setLive(el, on) {
    if (el) {
      el.setAttribute('data-state', on ? 'on' : 'off');
      el.textContent = on ? 'live' : 'reconnecting';
    }
  }

  // ------------------------------------------------------------ copy buttons
  document.addEventListener('click', function (e) {
    var button = e.target.closest('[data-copy]');
    if (!button) return;
    var input = document.getElementById(button.getAttribute('data-copy'));
    if (!input) return;
    var done = function () {
      button.textContent = 'Copied';
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select();
      });
    } else {
      input.select();
      try {
        if (document.execCommand('copy')) done();
      } catch (err) {
        // The text stays selected: the user copies it by hand.
      }
    }
  });

  // ------------------------------------------------------------ overview
  var overview = document.getElementById('overview');
  if (overview && window.EventSource) {
    var chart = null;
    var chartEl = document.getElementById('traffic-chart');
    var live = document.getElementById('overview-live');

    var css = function (name) {
      return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
    };

    var drawChart = function (t) {
      if (!window.uPlot || !chartEl) return;
      var data = [t.t, t.gateway, t.pool];
      if (chart) {
        chart.setData(data);
        return;
      }
      var axis = { stroke: css('--muted'), grid: { stroke: css('--line'), width: 1 }, ticks: { stroke: css('--line') } };
      chart = new window.uPlot(
        {
          width: Math.max(280, chartEl.clientWidth),
          height: 240,
          scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(5, max)]; } } },
          axes: [axis, Object.assign({ label: 'requests a minute' }, axis)],
          series: [
            {},
            { label: 'gateway (all processes)', stroke: css('--chart-1'), width: 2, points: { show: false } },
            { label: 'pool (this process)', stroke: css('--chart-2'), width: 2, dash: [6, 4], points: { show: false } },
          ],
        },
        data,
        chartEl,
      );
      window.addEventListener('resize', function () {
        chart.setSize({ width: Math.max(280, chartEl.clientWidth), height: 240 });
      });
    };

    var fillRows = function (tbody, rows, build) {
      if (!tbody) return;
      while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
      if (rows.length === 0) {
        var tr = document.createElement('tr');
        var td = cell(tr, tbody.getAttribute('data-empty') || 'none', 'muted');
        td.colSpan = 5;
        tbody.appendChild(tr);
      }
      rows.forEach(function (r) {
        var tr = document.createElement('tr');
        build(tr, r);
        tbody.appendChild(tr);
      });
    };

    var render = function (d) {
      text(document.getElementById('k-total'), d.keys.total);
      text(document.getElementById('k-active'), d.keys.active);
      text(document.getElementById('k-cooling'), d.keys.cooling);
      text(document.getElementById('k-disabled'), d.keys.disabled);
      text(document.getElementById('q-inflight'), d.queue.inFlight);
      text(document.getElementById('q-waiting'), d.queue.waiting);
      text(document.getElementById('t-minute'), d.traffic.thisMinute);
      text(document.getElementById('t-hour'), d.traffic.lastHour);
      fillRows(document.getElementById('kinds'), d.kinds, function (tr, k) {
        cell(tr, k[0], k[0] === 'ok' ? 'ok' : 'warn');
        cell(tr, k[1], 'num');
      });
      fillRows(document.getElementById('quota'), d.quota, function (tr, q) {
        cell(tr, q.group);
        cell(tr, q.model);
        cell(tr, q.used, 'num');
        cell(tr, q.limit === null ? 'unknown' : q.limit, 'num');
        var td = document.createElement('td');
        if (q.limit !== null) {
          var m = document.createElement('meter');
          m.min = 0;
          m.max = q.limit;
          m.value = Math.min(q.used, q.limit);
          m.high = q.limit * 0.8;
          m.textContent = q.used + ' of ' + q.limit;
          td.appendChild(m);
        }
        tr.appendChild(td);
      });
      drawChart(d.traffic);
    };

    var source = new EventSource('/dashboard/events/overview');
    source.addEventListener('overview', function (e) {
      setLive(live, true);
      render(JSON.parse(e.data));
    });
    source.addEventListener('expired', function () {
      source.close();
      window.location.assign('/dashboard/login?expired=1');
    });
    source.onerror = function () {
      setLive(live, false);
    };
  }

  // ------------------------------------------------------------ request log: live tail
  var tailButton = document.getElementById('tail-toggle');
  var logBody = document.getElementById('log-rows');
  if (tailButton && logBody && window.EventSource) {
    var tail = null;
    var tailLive = document.getElementById('log-live');
    var stop = function () {
      if (tail) tail.close();
      tail = null;
      tailButton.setAttribute('aria-pressed', 'false');
      tailButton.textContent = 'Start live tail';
      if (tailLive) tailLive.textContent = '';
    };
    tailButton.addEventListener('click', function () {
      if (tail) return stop();
      tail = new EventSource('/dashboard/events/log' + (tailButton.getAttribute('data-query') || ''));
      tailButton.setAttribute('aria-pressed', 'true');
      tailButton.textContent = 'Stop live tail';
      setLive(tailLive, true);
      tail.addEventListener('rows', function (e) {
        setLive(tailLive, true);
        // Rows the server rendered (escaped there), newest first.
        logBody.insertAdjacentHTML('afterbegin', e.data);
        while (logBody.rows.length > 500) logBody.deleteRow(logBody.rows.length - 1);
        var empty = document.getElementById('log-empty');
        if (empty) empty.remove();
      });
      tail.addEventListener('expired', function () {
        stop();
        window.location.assign('/dashboard/login?expired=1');
      });
      tail.onerror = function () {
        setLive(tailLive, false);
      };
    });
    if (tailButton.getAttribute('data-autostart') === 'true') tailButton.click();
  }
})();
