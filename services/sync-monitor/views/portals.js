// The portal charts (uPlot, served from the installed package): per target, latency percentiles
// and calls by outcome per minute, minutes of a breaker not closed shaded. Refreshed from the ops
// API every 10 s (the session cookie authenticates it).
(function () {
  'use strict';
  var hours = Number(document.currentScript.getAttribute('data-hours')) || 6;
  var root = document.getElementById('portal-charts');
  var charts = {};

  function byTarget(minutes) {
    var out = {};
    minutes.forEach(function (m) {
      (out[m.target] = out[m.target] || []).push(m);
    });
    return out;
  }

  function columns(rows) {
    var t = rows.map(function (m) {
      return Date.parse(m.minute) / 1000;
    });
    var pick = function (k) {
      return rows.map(function (m) {
        return m[k];
      });
    };
    return {
      latency: [t, pick('p50Ms'), pick('p95Ms'), pick('p99Ms')],
      calls: [t, pick('calls'), pick('errors'), pick('rateLimited'), pick('deferred')],
      outage: rows.map(function (m) {
        return m.outage;
      }),
      t: t,
    };
  }

  // Shades the minutes whose breaker was not closed, behind the series.
  function outagePlugin(get) {
    return {
      hooks: {
        drawClear: function (u) {
          var c = get();
          var ctx = u.ctx;
          ctx.save();
          ctx.fillStyle = 'rgba(176, 0, 32, 0.12)';
          c.outage.forEach(function (o, i) {
            if (!o) return;
            var x0 = u.valToPos(c.t[i], 'x', true);
            var x1 = u.valToPos(c.t[i] + 60, 'x', true);
            ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
          });
          ctx.restore();
        },
      },
    };
  }

  function chart(title, series, data, plugin) {
    var el = document.createElement('div');
    el.className = 'chart';
    root.appendChild(el);
    return new uPlot(
      {
        title: title,
        width: Math.min(1300, root.clientWidth || 1000),
        height: 220,
        plugins: [plugin],
        // The whole window, whatever minutes have calls (one point would span years otherwise).
        scales: {
          x: {
            time: true,
            range: function () {
              var now = Date.now() / 1000;
              return [now - hours * 3600, now];
            },
          },
        },
        series: [{}].concat(series),
        axes: [{}, { size: 60 }],
      },
      data,
      el,
    );
  }

  function draw(minutes) {
    var groups = byTarget(minutes);
    Object.keys(groups).forEach(function (target) {
      var c = columns(groups[target]);
      var existing = charts[target];
      if (existing) {
        existing.current = c;
        existing.latency.setData(c.latency);
        existing.calls.setData(c.calls);
        return;
      }
      var entry = { current: c };
      var plugin = outagePlugin(function () {
        return entry.current;
      });
      var h = document.createElement('h2');
      h.textContent = target;
      root.appendChild(h);
      entry.latency = chart(
        target + ': latency (ms)',
        [
          { label: 'p50', stroke: '#1b7f3b' },
          { label: 'p95', stroke: '#b26a00' },
          { label: 'p99', stroke: '#b00020' },
        ],
        c.latency,
        plugin,
      );
      entry.calls = chart(
        target + ': calls per minute',
        [
          { label: 'calls', stroke: '#0b3d5c' },
          { label: 'errors', stroke: '#b00020' },
          { label: '429', stroke: '#b26a00' },
          { label: 'deferred', stroke: '#667' },
        ],
        c.calls,
        plugin,
      );
      entry.latency.root.setAttribute('data-target', target);
      charts[target] = entry;
    });
  }

  draw(JSON.parse(document.getElementById('portal-data').textContent || '[]'));
  setInterval(function () {
    fetch('/api/portals?hours=' + hours, { credentials: 'same-origin' })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (body) {
        if (body) draw(body.minutes);
      })
      .catch(function () {
        /* the next round tries again */
      });
  }, 10000);
})();
