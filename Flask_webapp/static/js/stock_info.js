/*
 * Price chart on the index page (/).
 *
 * Contract with templates/index.html (the chart is optional: without #price-chart this does nothing):
 *   #price-chart[data-history-url]   chart container; GET data-history-url returns
 *                                     {"ticker", "source", "prices": [{date, open, high, low, close, volume}]}
 *                                     ascending by date, or {"error", "message"} with a 4xx/5xx status
 *   #chart-controls[hidden]          buttons [data-range="1M|3M|6M|1Y|5Y|ALL"] and [data-style="candles|line"]
 *                                     with aria-pressed; un-hidden once the chart is drawn
 *   #chart-status                    role="status" line for "Loading…" and error messages
 * Needs the vendored lightweight-charts 5 (global LightweightCharts) and charts.js (window.StockCharts),
 * both loaded before this with defer.
 */
(function () {
  'use strict';

  var cssColor = window.StockCharts.cssColor;
  var setStatus = window.StockCharts.setStatus;
  var isFiniteNumber = window.StockCharts.isFiniteNumber;
  var cleanRows = window.StockCharts.cleanRows;
  var pressOnly = window.StockCharts.pressOnly;

  var DEFAULT_RANGE = '1Y';
  var DEFAULT_STYLE = 'candles';
  var RANGE_MONTHS = { '1M': 1, '3M': 3, '6M': 6, '1Y': 12, '5Y': 60 };

  /* The date `months` calendar months before isoDate, clamped to the end of a shorter month. */
  function monthsBefore(isoDate, months) {
    var parts = isoDate.split('-').map(Number);
    var target = new Date(Date.UTC(parts[0], parts[1] - 1 - months, 1));
    var lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
    target.setUTCDate(Math.min(parts[2], lastDay));
    return target.toISOString().slice(0, 10);
  }

  function buildSeriesData(rows, colors) {
    var candles = [];
    var closes = [];
    var volumes = [];
    rows.forEach(function (row) {
      closes.push({ time: row.date, value: row.close });
      if (isFiniteNumber(row.open) && isFiniteNumber(row.high) && isFiniteNumber(row.low)) {
        candles.push({ time: row.date, open: row.open, high: row.high, low: row.low, close: row.close });
      }
      if (isFiniteNumber(row.volume) && row.volume >= 0) {
        var up = !isFiniteNumber(row.open) || row.close >= row.open;
        volumes.push({ time: row.date, value: row.volume, color: up ? colors.volumeUp : colors.volumeDown });
      }
    });
    return { candles: candles, closes: closes, volumes: volumes };
  }

  /* Open, high, low, close and volume of one day, for the tooltip. */
  function tooltipRows(row) {
    if (!row) {
      return null;
    }
    var formatPrice = window.StockCharts.formatPrice;
    var lines = [];
    [['open', 'Open'], ['high', 'High'], ['low', 'Low'], ['close', 'Close']].forEach(function (field) {
      if (isFiniteNumber(row[field[0]])) {
        lines.push({ kind: field[0], label: field[1], value: formatPrice(row[field[0]]) });
      }
    });
    if (isFiniteNumber(row.volume)) {
      lines.push({ kind: 'volume', label: 'Volume', value: window.StockCharts.formatCount(row.volume) });
    }
    return lines;
  }

  function createPriceChart(container, rows) {
    var LW = window.LightweightCharts;
    var colors = {
      text: cssColor('--chart-text', '#343a40'),
      grid: cssColor('--chart-grid', '#eef0f3'),
      border: cssColor('--chart-border', '#d0d5dc'),
      background: cssColor('--chart-background', '#ffffff'),
      up: cssColor('--chart-up', '#12805c'),
      down: cssColor('--chart-down', '#c92a2a'),
      line: cssColor('--chart-history', '#1f4e99'),
      volumeUp: cssColor('--chart-volume-up', 'rgba(18, 128, 92, 0.35)'),
      volumeDown: cssColor('--chart-volume-down', 'rgba(201, 42, 42, 0.35)')
    };
    var data = buildSeriesData(rows, colors);
    var priceFormat = window.StockCharts.priceFormat(rows.map(function (row) { return row.close; }));

    var chart = LW.createChart(container, window.StockCharts.baseOptions(container, colors, {
      rightPriceScale: { borderColor: colors.border, scaleMargins: { top: 0.08, bottom: 0.22 } },
      // A small minimum bar spacing lets "All" show decades of days on a phone-wide chart.
      timeScale: { minBarSpacing: 0.02 }
    }));

    var volume = null;
    if (data.volumes.length) {
      volume = chart.addSeries(LW.HistogramSeries, {
        priceScaleId: 'volume',
        priceFormat: { type: 'volume' },
        lastValueVisible: false,
        priceLineVisible: false,
        title: ''
      });
      chart.priceScale('volume').applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
      volume.setData(data.volumes);
    }

    var candles = chart.addSeries(LW.CandlestickSeries, {
      upColor: colors.up,
      downColor: colors.down,
      borderUpColor: colors.up,
      borderDownColor: colors.down,
      wickUpColor: colors.up,
      wickDownColor: colors.down,
      priceFormat: priceFormat
    });
    candles.setData(data.candles);
    // Prices keep the top three quarters and volume the bottom fifth, so the bars never cover
    // a low candle; set on the scale itself, after its first series exists.
    chart.priceScale('right').applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });

    var line = chart.addSeries(LW.LineSeries, {
      color: colors.line,
      lineWidth: 2,
      priceFormat: priceFormat,
      visible: false
    });
    line.setData(data.closes);

    var byDay = {};
    rows.forEach(function (row) { byDay[row.date] = row; });
    window.StockCharts.followCrosshair(chart, container, function (date) {
      return tooltipRows(byDay[date]);
    });

    return {
      chart: chart,
      series: { candles: candles, line: line },
      hasCandles: data.candles.length > 0
    };
  }

  function showRange(chart, rows, range) {
    var months = RANGE_MONTHS[range];
    var last = rows[rows.length - 1].date;
    if (!months || monthsBefore(last, months) <= rows[0].date) {
      window.StockCharts.showBars(chart, 0, rows.length - 1);
      return;
    }
    var cutoff = monthsBefore(last, months);
    var first = rows.length - 1;
    while (first > 0 && rows[first - 1].date >= cutoff) {
      first -= 1;
    }
    // Relative to the last date in the data, never to today: bundled data ends years ago.
    window.StockCharts.showBars(chart, first, rows.length - 1);
  }

  function showStyle(drawn, style) {
    var useLine = style === 'line' || !drawn.hasCandles;
    drawn.series.candles.applyOptions({ visible: !useLine });
    drawn.series.line.applyOptions({ visible: useLine });
  }

  function initialChoice(buttons, attribute, fallback) {
    var pressed = buttons.filter(function (button) {
      return button.getAttribute('aria-pressed') === 'true';
    })[0];
    return pressed ? pressed.getAttribute(attribute) : fallback;
  }

  function wireControls(controls, drawn, rows) {
    if (!controls) {
      showRange(drawn.chart, rows, DEFAULT_RANGE);
      return;
    }
    var rangeButtons = Array.prototype.slice.call(controls.querySelectorAll('button[data-range]'));
    var styleButtons = Array.prototype.slice.call(controls.querySelectorAll('button[data-style]'));

    rangeButtons.forEach(function (button) {
      button.addEventListener('click', function () {
        pressOnly(rangeButtons, button);
        showRange(drawn.chart, rows, button.getAttribute('data-range'));
      });
    });
    styleButtons.forEach(function (button) {
      if (button.getAttribute('data-style') === 'candles' && !drawn.hasCandles) {
        button.disabled = true;
      }
      button.addEventListener('click', function () {
        pressOnly(styleButtons, button);
        showStyle(drawn, button.getAttribute('data-style'));
      });
    });

    var style = drawn.hasCandles ? initialChoice(styleButtons, 'data-style', DEFAULT_STYLE) : 'line';
    pressOnly(styleButtons, styleButtons.filter(function (b) { return b.getAttribute('data-style') === style; })[0]);
    showStyle(drawn, style);
    showRange(drawn.chart, rows, initialChoice(rangeButtons, 'data-range', DEFAULT_RANGE));
    controls.hidden = false;
  }

  function errorMessage(response, body) {
    if (body && typeof body.message === 'string' && body.message) {
      return body.message;
    }
    return 'The price history could not be loaded (HTTP ' + response.status + ').';
  }

  function loadHistory(url) {
    return window.fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok) {
            throw new Error(errorMessage(response, body));
          }
          if (!body || !Array.isArray(body.prices)) {
            throw new Error('The price history came back in an unexpected format.');
          }
          return body;
        });
      }, function () {
        throw new Error('The price history could not be loaded: the server did not answer.');
      });
  }

  function init() {
    var container = document.getElementById('price-chart');
    if (!container) {
      return;
    }
    var statusEl = document.getElementById('chart-status');
    var controls = document.getElementById('chart-controls');
    var url = container.getAttribute('data-history-url');
    if (!url) {
      return;
    }
    if (!window.LightweightCharts || !window.fetch) {
      setStatus(statusEl, 'The chart cannot be shown: its script did not load.', true);
      return;
    }

    setStatus(statusEl, 'Loading price history…', false);
    loadHistory(url).then(function (body) {
      var rows = cleanRows(body.prices);
      if (!rows.length) {
        setStatus(statusEl, 'There is no price history to chart.', true);
        return;
      }
      var drawn = createPriceChart(container, rows);
      wireControls(controls, drawn, rows);
      setStatus(statusEl, '', false);
    }).catch(function (error) {
      setStatus(statusEl, error && error.message ? error.message : 'The chart could not be drawn.', true);
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
