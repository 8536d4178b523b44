/*
 * Forecast chart on the prediction page (/prediction/<ticker>).
 *
 * Contract with templates/show_prediction.html (without #prediction-chart this does nothing):
 *   <script type="application/json" id="prediction-data">
 *     {"ticker", "history": [{date, close}], "forecast": [{date, close, low?, high?}],
 *      "actual": [{date, close}] | null, "level": 0.8 | null}
 *   #prediction-chart   chart container
 *   #chart-status       role="status" line for error messages
 *   #prediction-legend  optional <ul> for the legend; created after the chart when absent
 * Needs the vendored lightweight-charts 5 (global LightweightCharts) and charts.js (window.StockCharts),
 * both loaded before this with defer.
 */
(function () {
  'use strict';

  var cssColor = window.StockCharts.cssColor;
  var setStatus = window.StockCharts.setStatus;
  var isFiniteNumber = window.StockCharts.isFiniteNumber;
  var cleanRows = window.StockCharts.cleanRows;

  function toLine(rows) {
    return rows.map(function (row) {
      return { time: row.date, value: row.close };
    });
  }

  /* Starts a series at the last history point, so its line joins the history line. */
  function joined(anchor, points) {
    if (!anchor || !points.length || points[0].time <= anchor.time) {
      return points;
    }
    return [anchor].concat(points);
  }

  /*
   * The forecast band as a custom series: one filled polygon between each row's low and high.
   * priceValueBuilder returns low and high, so the price scale's autoscale keeps the band in view.
   */
  function BandView() {
    this.bars = [];
    this.options = null;
  }
  BandView.prototype.renderer = function () {
    var view = this;
    return {
      draw: function (target, priceToY) {
        var bars = view.bars;
        if (bars.length < 2 || !view.options) {
          return;
        }
        target.useMediaCoordinateSpace(function (scope) {
          var ctx = scope.context;
          var upper = [];
          var lower = [];
          bars.forEach(function (bar) {
            var highY = priceToY(bar.originalData.high);
            var lowY = priceToY(bar.originalData.low);
            if (highY !== null && lowY !== null) {
              upper.push([bar.x, highY]);
              lower.push([bar.x, lowY]);
            }
          });
          if (upper.length < 2) {
            return;
          }
          ctx.beginPath();
          ctx.moveTo(upper[0][0], upper[0][1]);
          upper.forEach(function (point) { ctx.lineTo(point[0], point[1]); });
          lower.slice().reverse().forEach(function (point) { ctx.lineTo(point[0], point[1]); });
          ctx.closePath();
          ctx.fillStyle = view.options.fillColor;
          ctx.fill();
          // Outline the high and low edges only, not the vertical closing side at the last day.
          ctx.lineWidth = 1;
          ctx.strokeStyle = view.options.edgeColor;
          [upper, lower].forEach(function (edge) {
            ctx.beginPath();
            ctx.moveTo(edge[0][0], edge[0][1]);
            edge.forEach(function (point) { ctx.lineTo(point[0], point[1]); });
            ctx.stroke();
          });
        });
      }
    };
  };
  BandView.prototype.update = function (data, options) {
    this.bars = data.bars;
    this.options = options;
  };
  BandView.prototype.priceValueBuilder = function (row) {
    return [row.low, row.high, (row.low + row.high) / 2];
  };
  BandView.prototype.isWhitespace = function (row) {
    return !isFiniteNumber(row.low) || !isFiniteNumber(row.high);
  };
  BandView.prototype.defaultOptions = function () {
    var defaults = {};
    var base = window.LightweightCharts.customSeriesDefaultOptions;
    Object.keys(base).forEach(function (key) { defaults[key] = base[key]; });
    defaults.fillColor = 'rgba(217, 72, 15, 0.16)';
    defaults.edgeColor = 'rgba(217, 72, 15, 0.35)';
    return defaults;
  };

  function bandRows(forecast, anchorRow) {
    var rows = forecast.filter(function (row) {
      return isFiniteNumber(row.low) && isFiniteNumber(row.high) && row.low <= row.high;
    }).map(function (row) {
      return { time: row.date, low: row.low, high: row.high };
    });
    // The band must cover every forecast day, or it would hide gaps; otherwise draw none.
    if (rows.length !== forecast.length) {
      return [];
    }
    if (anchorRow) {
      rows.unshift({ time: anchorRow.date, low: anchorRow.close, high: anchorRow.close });
    }
    return rows;
  }

  function levelLabel(level) {
    if (!isFiniteNumber(level) || level <= 0 || level >= 1) {
      return 'Forecast band';
    }
    return Math.round(level * 100) + '% forecast band';
  }

  function renderLegend(container, items) {
    var legend = document.getElementById('prediction-legend');
    if (!legend) {
      legend = document.createElement('ul');
      legend.id = 'prediction-legend';
      container.parentNode.insertBefore(legend, container.nextSibling);
    }
    legend.classList.add('chart-legend');
    legend.setAttribute('aria-label', 'Chart legend');
    while (legend.firstChild) {
      legend.removeChild(legend.firstChild);
    }
    items.forEach(function (item) {
      var entry = document.createElement('li');
      var swatch = document.createElement('span');
      swatch.className = 'legend-swatch legend-swatch-' + item.kind;
      swatch.setAttribute('aria-hidden', 'true');
      entry.appendChild(swatch);
      entry.appendChild(document.createTextNode(item.label));
      legend.appendChild(entry);
    });
  }

  function pricePrecision(rows) {
    var lowest = Infinity;
    rows.forEach(function (row) { lowest = Math.min(lowest, row.close); });
    return lowest < 1 ? 4 : 2;
  }

  /* Roughly the last 3 to 6 months of history (longer for longer forecasts) plus the forecast. */
  function fitView(chart, times, history, forecastLength) {
    if (!history.length) {
      chart.timeScale().fitContent();
      return;
    }
    var historyBars = Math.max(63, Math.min(126, 4 * forecastLength));
    var firstShown = history[Math.max(0, history.length - historyBars)].date;
    var from = times.indexOf(firstShown);
    chart.timeScale().setVisibleLogicalRange({ from: from - 0.5, to: times.length - 1 + 2 });
  }

  function draw(container, data) {
    var LW = window.LightweightCharts;
    var colors = {
      text: cssColor('--chart-text', '#343a40'),
      grid: cssColor('--chart-grid', '#eef0f3'),
      border: cssColor('--chart-border', '#d0d5dc'),
      background: cssColor('--chart-background', '#ffffff'),
      history: cssColor('--chart-history', '#1f4e99'),
      forecast: cssColor('--chart-forecast', '#d9480f'),
      actual: cssColor('--chart-actual', '#212529'),
      bandFill: cssColor('--chart-band', 'rgba(217, 72, 15, 0.16)'),
      bandEdge: cssColor('--chart-band-edge', 'rgba(217, 72, 15, 0.35)')
    };
    var history = cleanRows(data.history);
    var forecast = cleanRows(data.forecast);
    var actual = cleanRows(data.actual);
    if (!history.length && !forecast.length) {
      return false;
    }
    var precision = pricePrecision(history.concat(forecast, actual));
    var priceFormat = { type: 'price', precision: precision, minMove: Math.pow(10, -precision) };
    var lastHistory = history.length ? history[history.length - 1] : null;
    var anchor = lastHistory ? { time: lastHistory.date, value: lastHistory.close } : null;

    // layout.attributionLogo stays at its default (true): the licence asks for the TradingView link.
    var chart = LW.createChart(container, {
      autoSize: true,
      layout: {
        background: { type: LW.ColorType.Solid, color: colors.background },
        textColor: colors.text,
        fontFamily: window.getComputedStyle(container).fontFamily
      },
      grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
      rightPriceScale: { borderColor: colors.border, scaleMargins: { top: 0.1, bottom: 0.1 } },
      timeScale: { borderColor: colors.border, lockVisibleTimeRangeOnResize: true },
      crosshair: { mode: LW.CrosshairMode.Normal },
      handleScroll: { vertTouchDrag: false }
    });

    var band = bandRows(forecast, lastHistory);
    if (band.length) {
      var bandSeries = chart.addCustomSeries(new BandView(), {
        fillColor: colors.bandFill,
        edgeColor: colors.bandEdge,
        color: colors.forecast,
        priceFormat: priceFormat,
        lastValueVisible: false,
        priceLineVisible: false
      });
      bandSeries.setData(band);
    }

    if (history.length) {
      var historySeries = chart.addSeries(LW.LineSeries, {
        color: colors.history,
        lineWidth: 2,
        priceFormat: priceFormat,
        lastValueVisible: false,
        priceLineVisible: false
      });
      historySeries.setData(toLine(history));
    }

    if (actual.length) {
      var actualSeries = chart.addSeries(LW.LineSeries, {
        color: colors.actual,
        lineWidth: 2,
        lineStyle: LW.LineStyle.Dashed,
        priceFormat: priceFormat,
        lastValueVisible: false,
        priceLineVisible: false
      });
      actualSeries.setData(joined(anchor, toLine(actual)));
    }

    if (forecast.length) {
      var forecastSeries = chart.addSeries(LW.LineSeries, {
        color: colors.forecast,
        lineWidth: 2,
        priceFormat: priceFormat,
        priceLineVisible: false
      });
      forecastSeries.setData(joined(anchor, toLine(forecast)));
    }

    var times = {};
    history.concat(forecast, actual).forEach(function (row) { times[row.date] = true; });
    fitView(chart, Object.keys(times).sort(), history, forecast.length);
    renderLegend(container, [
      { kind: 'history', label: 'Price history', shown: history.length > 0 },
      { kind: 'forecast', label: 'Forecast', shown: forecast.length > 0 },
      { kind: 'band', label: levelLabel(data.level), shown: band.length > 0 },
      { kind: 'actual', label: 'Actual price', shown: actual.length > 0 }
    ].filter(function (item) { return item.shown; }));
    return true;
  }

  function init() {
    var container = document.getElementById('prediction-chart');
    var source = document.getElementById('prediction-data');
    if (!container || !source) {
      return;
    }
    var statusEl = document.getElementById('chart-status');
    if (!window.LightweightCharts) {
      setStatus(statusEl, 'The chart cannot be shown: its script did not load.', true);
      return;
    }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      setStatus(statusEl, 'The chart cannot be shown: its data could not be read.', true);
      return;
    }
    if (!data || typeof data !== 'object') {
      setStatus(statusEl, 'The chart cannot be shown: its data could not be read.', true);
      return;
    }
    try {
      if (!draw(container, data)) {
        setStatus(statusEl, 'There is nothing to chart.', true);
      }
    } catch (error) {
      setStatus(statusEl, 'The chart could not be drawn.', true);
    }
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
}());
