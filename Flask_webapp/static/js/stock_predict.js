/*
 * Forecast chart on the prediction page (/prediction/<ticker> and uploads).
 *
 * Contract with templates/show_prediction.html (without #prediction-chart this does nothing):
 *   <script type="application/json" id="prediction-data">
 *     {"ticker", "as_of", "horizon", "history": [{date, close}], "forecast": [{date, close, low?, high?}],
 *      "actual": [{date, close|null}] | null, "level": 0.8 | null,
 *      "bands": {"0.5": [{date, low, high}], ...}, "baselines": {"naive": [...], "long_run_drift": [...]}}
 *     (low and high are null at a step with no band: too few past errors that many days ahead)
 *   #prediction-chart     chart container; gets data-as-of-marker, data-visible-from, data-visible-to
 *                         and data-band-steps, the forecast steps of each shape the band was last
 *                         drawn as ("1-3 5-10"; empty when none)
 *   #prediction-controls  optional, [hidden] until drawn: buttons [data-baseline] and
 *                         [data-view="near|all"], each with aria-pressed. The band's level is
 *                         chosen by links that reload the page (the table and downloads follow it)
 *   #chart-status         role="status" line for error messages
 *   #prediction-legend    optional <ul> for the legend; created after the chart when absent
 * Needs the vendored lightweight-charts 5 (global LightweightCharts) and charts.js (window.StockCharts),
 * both loaded before this with defer.
 */
(function () {
  'use strict';

  var SC = window.StockCharts;
  var BASELINES = {
    naive: { label: 'No change: the last close', short: 'No change', color: '--chart-naive', fallback: '#495057' },
    long_run_drift: { label: 'Past trend: the average daily change so far', short: 'Past trend', color: '--chart-drift', fallback: '#7048e8' }
  };

  function toLine(rows) {
    return rows.map(function (row) {
      return { time: row.date, value: row.close };
    });
  }

  function byDate(rows, pick) {
    var map = {};
    rows.forEach(function (row) { map[row.date] = pick(row); });
    return map;
  }

  /* Starts a series at the as-of close, so its line joins the history line. */
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
    this.onDrawn = null;
  }
  BandView.prototype.renderer = function () {
    var view = this;
    return {
      draw: function (target, priceToY) {
        var bars = view.bars;
        if (!bars.length || !view.options) {
          view.report([]);
          return;
        }
        target.useMediaCoordinateSpace(function (scope) {
          var ctx = scope.context;
          // One polygon per run of banded days: a day without a band breaks the band there.
          var runs = {};
          var order = [];
          bars.forEach(function (bar) {
            var row = bar.originalData;
            var highY = priceToY(row.high);
            var lowY = priceToY(row.low);
            if (highY === null || lowY === null || !SC.isFiniteNumber(row.run)) {
              return;
            }
            if (!runs[row.run]) {
              runs[row.run] = { upper: [], lower: [], steps: [] };
              order.push(row.run);
            }
            runs[row.run].upper.push([bar.x, highY]);
            runs[row.run].lower.push([bar.x, lowY]);
            if (row.step > 0) {
              runs[row.run].steps.push(row.step);
            }
          });
          var drawn = [];
          ctx.lineWidth = 1;
          ctx.fillStyle = view.options.fillColor;
          ctx.strokeStyle = view.options.edgeColor;
          order.forEach(function (key) {
            var run = runs[key];
            var upper = run.upper;
            var lower = run.lower;
            if (upper.length < 2) {
              // A lone banded day between days without one: a bar from its low to its high.
              ctx.fillRect(upper[0][0] - 2, upper[0][1], 4, Math.max(1, lower[0][1] - upper[0][1]));
              drawn.push(run.steps);
              return;
            }
            ctx.beginPath();
            ctx.moveTo(upper[0][0], upper[0][1]);
            upper.forEach(function (point) { ctx.lineTo(point[0], point[1]); });
            lower.slice().reverse().forEach(function (point) { ctx.lineTo(point[0], point[1]); });
            ctx.closePath();
            ctx.fill();
            // Outline the high and low edges only, not the vertical sides at a run's ends.
            [upper, lower].forEach(function (edge) {
              ctx.beginPath();
              ctx.moveTo(edge[0][0], edge[0][1]);
              edge.forEach(function (point) { ctx.lineTo(point[0], point[1]); });
              ctx.stroke();
            });
            drawn.push(run.steps);
          });
          view.report(drawn);
        });
      }
    };
  };
  /* Tells the page the forecast steps of each shape the last frame drew (tests read them). */
  BandView.prototype.report = function (shapes) {
    if (this.onDrawn) {
      this.onDrawn(shapes);
    }
  };
  BandView.prototype.update = function (data, options) {
    this.bars = data.bars;
    this.options = options;
  };
  BandView.prototype.priceValueBuilder = function (row) {
    return [row.low, row.high, (row.low + row.high) / 2];
  };
  BandView.prototype.isWhitespace = function (row) {
    return !SC.isFiniteNumber(row.low) || !SC.isFiniteNumber(row.high);
  };
  BandView.prototype.defaultOptions = function () {
    var defaults = {};
    var base = window.LightweightCharts.customSeriesDefaultOptions;
    Object.keys(base).forEach(function (key) { defaults[key] = base[key]; });
    defaults.fillColor = 'rgba(217, 72, 15, 0.16)';
    defaults.edgeColor = 'rgba(217, 72, 15, 0.35)';
    return defaults;
  };

  /* A dashed vertical line at the as-of date, drawn under the series (a series primitive), with
     its label at the top, to the left of the line rather than across it. */
  function AsOfLine(time, color, label, background) {
    var line = this;
    this.time = time;
    this.color = color;
    this.label = label;
    this.background = background;
    this.chart = null;
    this.view = {
      zOrder: function () { return 'normal'; },
      renderer: function () {
        return {
          draw: function (target) {
            // Placed at draw time: the coordinate moves with every scroll and zoom.
            var at = line.chart ? line.chart.timeScale().timeToCoordinate(line.time) : null;
            if (at === null) {
              return;
            }
            target.useBitmapCoordinateSpace(function (scope) {
              var ctx = scope.context;
              var ratio = scope.horizontalPixelRatio;
              var x = Math.round(at * ratio) + 0.5;
              ctx.save();
              ctx.strokeStyle = line.color;
              ctx.lineWidth = Math.max(1, Math.floor(ratio));
              ctx.setLineDash([4 * ratio, 4 * ratio]);
              ctx.beginPath();
              ctx.moveTo(x, 0);
              ctx.lineTo(x, scope.bitmapSize.height);
              ctx.stroke();
              ctx.setLineDash([]);
              var size = 11 * scope.verticalPixelRatio;
              ctx.font = size + 'px ' + window.getComputedStyle(document.body).fontFamily;
              var width = ctx.measureText(line.label).width;
              var gap = 4 * ratio;
              // Left of the line, unless that would leave the pane.
              var left = x - gap - width >= 0 ? x - gap - width : x + gap;
              ctx.fillStyle = line.background;
              ctx.fillRect(left - gap / 2, 2 * ratio, width + gap, size + 4 * ratio);
              ctx.fillStyle = line.color;
              ctx.textBaseline = 'top';
              ctx.fillText(line.label, left, 4 * ratio);
              ctx.restore();
            });
          }
        };
      }
    };
  }
  AsOfLine.prototype.attached = function (param) { this.chart = param.chart; };
  AsOfLine.prototype.detached = function () { this.chart = null; };
  AsOfLine.prototype.updateAllViews = function () {};
  AsOfLine.prototype.paneViews = function () { return [this.view]; };

  /*
   * Band rows of one level on the forecast days that have one, or null when none has. Each step
   * has a band or not on its own (null where too few past errors calibrate it), so the rows carry
   * their step (1 = the first forecast day) and their run: banded days in a row share a run, and
   * a day without a band ends it, so the chart draws nothing there rather than bridging the gap.
   */
  function cleanBand(rows, forecast) {
    var byDay = {};
    (Array.isArray(rows) ? rows : []).forEach(function (row) {
      if (row && SC.isFiniteNumber(row.low) && SC.isFiniteNumber(row.high) && row.low <= row.high) {
        byDay[row.date] = row;
      }
    });
    var kept = [];
    var run = 0;
    forecast.forEach(function (row, index) {
      var band = byDay[row.date];
      if (band) {
        kept.push({ date: row.date, low: band.low, high: band.high, step: index + 1, run: run });
      } else if (kept.length && kept[kept.length - 1].run === run) {
        run += 1;
      }
    });
    return kept.length ? kept : null;
  }

  /* Steps as runs in words, as the page's sentences write them: [1, 2, 3, 7] -> "days 1–3 and 7". */
  function dayRanges(steps) {
    var runs = [];
    steps.forEach(function (step) {
      var last = runs[runs.length - 1];
      if (last && step === last[1] + 1) {
        last[1] = step;
      } else {
        runs.push([step, step]);
      }
    });
    var parts = runs.map(function (r) { return r[0] === r[1] ? String(r[0]) : r[0] + '–' + r[1]; });
    var text = parts.length > 1 ? parts.slice(0, -1).join(', ') + ' and ' + parts[parts.length - 1] : parts[0];
    return (steps.length === 1 ? 'day ' : 'days ') + text;
  }

  function levelKey(level) {
    return SC.isFiniteNumber(level) ? String(level) : null;
  }

  function levelLabel(key) {
    return Math.round(Number(key) * 100) + '% band';
  }

  /* Every band level the page may show, by key ("0.5", "0.8", "0.95"). */
  function bandLevels(data, forecast) {
    var levels = {};
    var bands = data.bands && typeof data.bands === 'object' ? data.bands : {};
    Object.keys(bands).forEach(function (key) {
      var rows = cleanBand(bands[key], forecast);
      if (rows && SC.isFiniteNumber(Number(key))) {
        levels[key] = rows;
      }
    });
    var chosen = levelKey(data.level);
    if (chosen && !levels[chosen]) {
      var own = cleanBand(forecast, forecast);
      if (own) {
        levels[chosen] = own;
      }
    }
    return levels;
  }

  function bandData(rows, anchorRow) {
    if (!rows) {
      return [];
    }
    var points = rows.map(function (row) {
      return { time: row.date, low: row.low, high: row.high, step: row.step, run: row.run };
    });
    // The band fans out from the last close only when the first forecast day has one.
    if (anchorRow && points[0].step === 1 && points[0].time > anchorRow.date) {
      points.unshift({ time: anchorRow.date, low: anchorRow.close, high: anchorRow.close, step: 0, run: points[0].run });
    }
    return points;
  }

  function legendFor(container) {
    var legend = document.getElementById('prediction-legend');
    if (!legend) {
      legend = document.createElement('ul');
      legend.id = 'prediction-legend';
      container.parentNode.insertBefore(legend, container.nextSibling);
    }
    legend.setAttribute('aria-label', 'Chart legend');
    return legend;
  }

  function narrow(container) {
    return container.clientWidth > 0 && container.clientWidth < 560;
  }

  function lineOptions(color, priceFormat, extra) {
    var options = {
      color: color,
      lineWidth: 2,
      priceFormat: priceFormat,
      lastValueVisible: false,
      priceLineVisible: false,
      crosshairMarkerRadius: 3
    };
    Object.keys(extra || {}).forEach(function (key) { options[key] = extra[key]; });
    return options;
  }

  function draw(container, data) {
    var LW = window.LightweightCharts;
    var colors = SC.chartColors();
    colors.history = SC.cssColor('--chart-history', '#1f4e99');
    colors.forecast = SC.cssColor('--chart-forecast', '#d9480f');
    colors.actual = SC.cssColor('--chart-actual', '#212529');
    colors.bandFill = SC.cssColor('--chart-band', 'rgba(217, 72, 15, 0.16)');
    colors.bandEdge = SC.cssColor('--chart-band-edge', 'rgba(217, 72, 15, 0.35)');
    colors.asOf = SC.cssColor('--chart-as-of', '#868e96');
    // The label's text needs more contrast than the dashed line (4.5:1 on white).
    colors.asOfText = SC.cssColor('--chart-as-of-text', '#5c636a');

    var history = SC.cleanRows(data.history);
    var forecast = SC.cleanRows(data.forecast);
    var actual = SC.cleanRows(data.actual);
    if (!history.length && !forecast.length) {
      return null;
    }
    var baselines = {};
    Object.keys(BASELINES).forEach(function (name) {
      var rows = SC.cleanRows(data.baselines && data.baselines[name]);
      if (rows.length) {
        baselines[name] = rows;
      }
    });
    var levels = bandLevels(data, forecast);
    var values = [];
    history.concat(forecast, actual).forEach(function (row) { values.push(row.close); });
    Object.keys(levels).forEach(function (key) {
      levels[key].forEach(function (row) { values.push(row.low, row.high); });
    });
    var priceFormat = SC.priceFormat(values);
    var lastHistory = history.length ? history[history.length - 1] : null;
    var anchor = lastHistory ? { time: lastHistory.date, value: lastHistory.close } : null;
    var asOf = SC.isDate(data.as_of) ? data.as_of : (lastHistory ? lastHistory.date : null);

    var chart = LW.createChart(container, SC.baseOptions(container, colors));
    var state = { chart: chart, container: container, level: null, shown: {}, series: {} };

    // Created first so it is drawn under the lines; empty until a level is chosen.
    var bandView = new BandView();
    // "1-3 5-10": one shape over steps 1 to 3, another over 5 to 10.
    bandView.onDrawn = function (shapes) {
      var text = shapes.filter(function (steps) { return steps.length; }).map(function (steps) {
        return steps[0] + '-' + steps[steps.length - 1];
      }).join(' ');
      if (container.getAttribute('data-band-steps') !== text) {
        container.setAttribute('data-band-steps', text);
      }
    };
    state.series.band = chart.addCustomSeries(bandView, {
      fillColor: colors.bandFill,
      edgeColor: colors.bandEdge,
      color: colors.forecast,
      priceFormat: priceFormat,
      lastValueVisible: false,
      priceLineVisible: false
    });

    if (history.length) {
      var historySeries = chart.addSeries(LW.LineSeries, lineOptions(colors.history, priceFormat));
      historySeries.setData(toLine(history));
      if (asOf) {
        historySeries.attachPrimitive(new AsOfLine(asOf, colors.asOfText, 'as of ' + asOf,
          colors.background));
        container.setAttribute('data-as-of-marker', asOf);
      }
    }

    if (actual.length) {
      var actualSeries = chart.addSeries(LW.LineSeries, lineOptions(colors.actual, priceFormat, {
        lineStyle: LW.LineStyle.Dashed
      }));
      actualSeries.setData(joined(anchor, toLine(actual)));
    }

    if (forecast.length) {
      var forecastSeries = chart.addSeries(LW.LineSeries, lineOptions(colors.forecast, priceFormat, {
        lastValueVisible: true
      }));
      forecastSeries.setData(joined(anchor, toLine(forecast)));
    }

    // The yardsticks are drawn over the forecast: where it is "no change" they coincide, and a
    // line underneath would make the Compare buttons seem to do nothing.
    Object.keys(baselines).forEach(function (name) {
      var spec = BASELINES[name];
      var series = chart.addSeries(LW.LineSeries, lineOptions(SC.cssColor(spec.color, spec.fallback), priceFormat, {
        lineStyle: name === 'naive' ? LW.LineStyle.Dotted : LW.LineStyle.LargeDashed,
        visible: false
      }));
      series.setData(joined(anchor, toLine(baselines[name])));
      state.series[name] = series;
    });


    var bandMaps = {};
    Object.keys(levels).forEach(function (key) {
      bandMaps[key] = byDate(levels[key], function (row) { return row; });
    });
    var maps = {
      history: byDate(history, function (row) { return row.close; }),
      forecast: byDate(forecast, function (row) { return row.close; }),
      actual: byDate(actual, function (row) { return row.close; })
    };
    Object.keys(baselines).forEach(function (name) {
      maps[name] = byDate(baselines[name], function (row) { return row.close; });
    });

    SC.followCrosshair(chart, container, function (date) {
      var rows = [];
      var add = function (kind, label, value) {
        if (value !== undefined) {
          rows.push({ kind: kind, label: label, value: value });
        }
      };
      if (date === asOf) {
        add('as-of', 'As of', 'last close');
      }
      add('history', 'Close', maps.history[date] === undefined ? undefined : SC.formatPrice(maps.history[date]));
      add('forecast', 'Forecast', maps.forecast[date] === undefined ? undefined : SC.formatPrice(maps.forecast[date]));
      var band = state.level ? bandMaps[state.level][date] : null;
      if (band) {
        add('band', levelLabel(state.level), SC.formatPrice(band.low) + ' – ' + SC.formatPrice(band.high));
      } else if (state.level && maps.forecast[date] !== undefined) {
        add('band', levelLabel(state.level), 'no band');
      }
      add('actual', 'Actual', maps.actual[date] === undefined ? undefined : SC.formatPrice(maps.actual[date]));
      Object.keys(baselines).forEach(function (name) {
        if (state.shown[name] && maps[name][date] !== undefined) {
          add(name, BASELINES[name].short, SC.formatPrice(maps[name][date]));
        }
      });
      return rows;
    });

    var times = {};
    history.concat(forecast, actual).forEach(function (row) { times[row.date] = true; });
    Object.keys(baselines).forEach(function (name) {
      baselines[name].forEach(function (row) { times[row.date] = true; });
    });
    state.times = Object.keys(times).sort();
    state.history = history;
    state.forecast = forecast;
    state.levels = levels;
    state.anchorRow = lastHistory;
    state.statusEl = document.getElementById('chart-status');
    // Days on which each yardstick equals the forecast (within 0.005%): said when it is shown.
    state.sameDays = {};
    Object.keys(baselines).forEach(function (name) {
      state.sameDays[name] = forecast.filter(function (row) {
        var other = maps[name][row.date];
        return other !== undefined && Math.abs(other - row.close) <= 0.005 * Math.max(1e-9, Math.abs(row.close)) / 100;
      }).length;
    });
    state.horizon = SC.isFiniteNumber(data.horizon) ? data.horizon : forecast.length;

    state.redrawLegend = function () {
      var items = [
        { kind: 'history', label: 'Price history', shown: history.length > 0 },
        { kind: 'as-of', label: 'As of ' + asOf, shown: Boolean(asOf && history.length) },
        { kind: 'forecast', label: 'Forecast', shown: forecast.length > 0 },
        { kind: 'band', label: state.level ? bandLegend(state) : '', shown: Boolean(state.level) },
        { kind: 'actual', label: 'Actual price', shown: actual.length > 0 }
      ];
      Object.keys(baselines).forEach(function (name) {
        items.push({ kind: name.replace(/_/g, '-'), label: BASELINES[name].label, shown: Boolean(state.shown[name]) });
      });
      SC.fillLegend(legendFor(container), items.filter(function (item) { return item.shown; }));
    };

    chart.timeScale().subscribeVisibleLogicalRangeChange(function () {
      var range = chart.timeScale().getVisibleRange();
      if (range) {
        container.setAttribute('data-visible-from', SC.isoDate(range.from));
        container.setAttribute('data-visible-to', SC.isoDate(range.to));
      }
    });

    var chosen = levelKey(data.level);
    showLevel(state, chosen && levels[chosen] ? chosen : null);
    showView(state, 'near');
    return state;
  }

  /* "80% band", or "80% band: days 1–10 (no band on the others)" when some days have none. */
  function bandLegend(state) {
    var rows = state.levels[state.level];
    if (rows.length === state.forecast.length) {
      return levelLabel(state.level);
    }
    return levelLabel(state.level) + ': ' + dayRanges(rows.map(function (row) { return row.step; })) +
      ' (no band on the others)';
  }

  function showLevel(state, key) {
    state.level = key && state.levels[key] ? key : null;
    state.series.band.setData(bandData(state.level ? state.levels[state.level] : null, state.anchorRow));
    state.redrawLegend();
  }

  function showBaseline(state, name, shown) {
    if (!state.series[name]) {
      return;
    }
    state.shown[name] = shown;
    state.series[name].applyOptions({ visible: shown });
    state.redrawLegend();
    var same = state.sameDays[name] || 0;
    var message = '';
    if (shown && same === state.forecast.length && same > 0) {
      message = BASELINES[name].short + ' is the same as the forecast on every day shown: its line lies on the forecast.';
    } else if (shown && same > 0) {
      message = BASELINES[name].short + ' is the same as the forecast on ' + same + ' of ' + state.forecast.length + ' days, where the lines lie on each other.';
    }
    SC.setStatus(state.statusEl, message, false);
  }

  /*
   * "near": the last max(20, 4 x horizon) days of history (10 on a phone) and the forecast, so a
   * one-day forecast is not a sliver at the right edge; "all": everything. Scrolling and zooming
   * stay free either way.
   */
  function showView(state, view) {
    if (view === 'all' || !state.history.length) {
      SC.showBars(state.chart, 0, state.times.length - 1);
      return;
    }
    var historyBars = Math.max(narrow(state.container) ? 10 : 20, 4 * state.horizon);
    var firstShown = state.history[Math.max(0, state.history.length - historyBars)].date;
    var from = state.times.indexOf(firstShown);
    var lastIndex = state.times.length - 1;
    var padding = Math.max(1, Math.round(0.08 * (lastIndex - from)));
    SC.showBars(state.chart, from, lastIndex + padding);
  }

  function buttons(root, selector) {
    return root ? Array.prototype.slice.call(root.querySelectorAll(selector)) : [];
  }

  function wireControls(controls, state) {
    if (!controls) {
      return;
    }
    buttons(controls, 'button[data-baseline]').forEach(function (button) {
      var name = button.getAttribute('data-baseline');
      button.disabled = !state.series[name];
      button.setAttribute('aria-pressed', 'false');
      button.addEventListener('click', function () {
        var shown = button.getAttribute('aria-pressed') !== 'true';
        button.setAttribute('aria-pressed', shown ? 'true' : 'false');
        showBaseline(state, name, shown);
      });
    });

    var viewButtons = buttons(controls, 'button[data-view]');
    viewButtons.forEach(function (button) {
      button.setAttribute('aria-pressed', button.getAttribute('data-view') === 'near' ? 'true' : 'false');
      button.addEventListener('click', function () {
        SC.pressOnly(viewButtons, button);
        showView(state, button.getAttribute('data-view'));
      });
    });
    controls.hidden = false;
  }

  function init() {
    var container = document.getElementById('prediction-chart');
    var source = document.getElementById('prediction-data');
    if (!container || !source) {
      return;
    }
    var statusEl = document.getElementById('chart-status');
    if (!window.LightweightCharts) {
      SC.setStatus(statusEl, 'The chart cannot be shown: its script did not load.', true);
      return;
    }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      data = null;
    }
    if (!data || typeof data !== 'object') {
      SC.setStatus(statusEl, 'The chart cannot be shown: its data could not be read.', true);
      return;
    }
    try {
      var state = draw(container, data);
      if (!state) {
        SC.setStatus(statusEl, 'There is nothing to chart.', true);
        return;
      }
      wireControls(document.getElementById('prediction-controls'), state);
    } catch (error) {
      SC.setStatus(statusEl, 'The chart could not be drawn.', true);
    }
  }

  SC.onReady(init);
}());
