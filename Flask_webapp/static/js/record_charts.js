/*
 * The track record as pictures, in the Track record card of the prediction page.
 *
 * Contract with templates/show_prediction.html (each picture is optional):
 *   <script type="application/json" id="prediction-data"> with "horizon",
 *     "by_step": {"steps", "mae_vs_naive": [steps floats|null], "p_value_vs_naive": [...]} | null,
 *     "past": {"date": [...], "forecast": [...], "actual": [...], "last_close": [...]} | null
 *       (columns: an upload's record holds thousands of rows)
 *   #record-steps-chart[hidden]  gets an inline SVG: error relative to naive for every step
 *   #record-past-chart[hidden]   gets a lightweight-charts chart of past forecasts against actuals
 *   #record-past-legend[hidden]  its legend
 * The same numbers are in the tables beside them, for people without JavaScript.
 * Needs charts.js (window.StockCharts); the second picture also the vendored lightweight-charts 5.
 */
(function () {
  'use strict';

  var SC = window.StockCharts;
  var SVG = 'http://www.w3.org/2000/svg';

  function svgEl(name, attributes, parent) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attributes || {}).forEach(function (key) {
      el.setAttribute(key, String(attributes[key]));
    });
    if (parent) {
      parent.appendChild(el);
    }
    return el;
  }

  function text(parent, x, y, content, attributes) {
    var el = svgEl('text', attributes, parent);
    // A halo in the background colour keeps a label readable where it crosses a line.
    el.setAttribute('stroke', SC.cssColor('--chart-background', '#ffffff'));
    el.setAttribute('stroke-width', '3');
    el.setAttribute('stroke-linejoin', 'round');
    el.setAttribute('paint-order', 'stroke');
    el.setAttribute('x', String(x));
    el.setAttribute('y', String(y));
    el.textContent = content;
    return el;
  }

  /* The widest tick step in a 1-2-5 series that still gives at least four ticks over span. */
  function tickStep(span) {
    var steps = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
    for (var i = 0; i < steps.length; i += 1) {
      if (span / steps[i] <= 5) {
        return steps[i];
      }
    }
    return steps[steps.length - 1];
  }

  function ratioText(value) {
    return SC.isFiniteNumber(value) ? value.toFixed(3) : 'n/a';
  }

  function stepSummary(ratios, horizon) {
    var best = null;
    var worst = null;
    var better = 0;
    var scored = 0;
    ratios.forEach(function (value, index) {
      if (!SC.isFiniteNumber(value)) {
        return;
      }
      scored += 1;
      if (value < 1) {
        better += 1;
      }
      if (best === null || value < ratios[best]) {
        best = index;
      }
      if (worst === null || value > ratios[worst]) {
        worst = index;
      }
    });
    if (best === null) {
      return 'No step could be scored.';
    }
    var parts = ['Error relative to “no change” for 1 to ' + ratios.length + ' trading days ahead; below 1 is better.',
      'Better than no change at ' + better + ' of ' + scored + ' steps.',
      'Lowest ' + ratioText(ratios[best]) + ' at ' + (best + 1) + ' days, highest ' +
        ratioText(ratios[worst]) + ' at ' + (worst + 1) + ' days.'];
    if (horizon >= 1 && horizon <= ratios.length) {
      parts.push('At the chosen ' + horizon + ' days: ' + ratioText(ratios[horizon - 1]) + '.');
    }
    return parts.join(' ');
  }

  /* Error relative to naive by step as an inline SVG sized to its container (redrawn on resize). */
  function drawSteps(container, byStep, horizon) {
    var ratios = (byStep.mae_vs_naive || []).map(function (v) { return SC.isFiniteNumber(v) ? v : null; });
    var pValues = byStep.p_value_vs_naive || [];
    var steps = ratios.length;
    if (steps < 2 || !ratios.some(SC.isFiniteNumber)) {
      return false;
    }
    var colors = {
      text: SC.cssColor('--chart-text', '#343a40'),
      grid: SC.cssColor('--chart-grid', '#eef0f3'),
      border: SC.cssColor('--chart-border', '#d0d5dc'),
      model: SC.cssColor('--chart-forecast', '#d9480f'),
      naive: SC.cssColor('--chart-naive', '#495057'),
      better: SC.cssColor('--chart-better', 'rgba(18, 128, 92, 0.08)'),
      worse: SC.cssColor('--chart-worse', 'rgba(201, 42, 42, 0.06)'),
      chosen: SC.cssColor('--chart-chosen', 'rgba(29, 78, 216, 0.12)')
    };
    var label = stepSummary(ratios, horizon);
    var drawnWidth = 0;

    function render() {
      var width = Math.max(220, Math.floor(container.clientWidth));
      if (width === drawnWidth) {
        return;
      }
      drawnWidth = width;
      var height = width < 480 ? 210 : 240;
      // A band above the plot holds the chosen step's label, so no line ever runs through it.
      var margin = { left: 46, right: 14, top: 30, bottom: 40 };
      var plotW = width - margin.left - margin.right;
      var plotH = height - margin.top - margin.bottom;
      var finite = ratios.filter(SC.isFiniteNumber);
      var lo = Math.min(1, Math.min.apply(null, finite));
      var hi = Math.max(1, Math.max.apply(null, finite));
      var pad = Math.max(0.01, (hi - lo) * 0.15);
      lo -= pad;
      hi += pad;
      var x = function (step) { return margin.left + (step - 1) / (steps - 1) * plotW; };
      var y = function (value) { return margin.top + (hi - value) / (hi - lo) * plotH; };

      var svg = svgEl('svg', {
        width: width, height: height, viewBox: '0 0 ' + width + ' ' + height,
        role: 'img', 'aria-label': label, class: 'record-steps-svg', 'font-size': 12
      });
      svg.setAttribute('data-steps', String(steps));
      var y1 = y(1);
      svgEl('rect', { x: margin.left, y: y1, width: plotW, height: margin.top + plotH - y1, fill: colors.better }, svg);
      svgEl('rect', { x: margin.left, y: margin.top, width: plotW, height: y1 - margin.top, fill: colors.worse }, svg);
      if (horizon >= 1 && horizon <= steps) {
        var half = plotW / (steps - 1) / 2;
        var from = Math.max(margin.left, x(horizon) - half);
        var to = Math.min(margin.left + plotW, x(horizon) + half);
        svgEl('rect', {
          x: from, y: margin.top, width: to - from, height: plotH,
          fill: colors.chosen, class: 'record-steps-chosen'
        }, svg);
      }

      var step = tickStep(hi - lo);
      var places = step < 0.01 ? 3 : (step < 0.1 ? 2 : 1);
      for (var tick = Math.ceil(lo / step) * step; tick <= hi + 1e-9; tick += step) {
        var ty = y(tick);
        svgEl('line', { x1: margin.left, x2: margin.left + plotW, y1: ty, y2: ty, stroke: colors.grid }, svg);
        text(svg, margin.left - 6, ty + 4, tick.toFixed(places), { 'text-anchor': 'end', fill: colors.text });
      }
      var xTicks = [1];
      for (var s = 5; s <= steps; s += 5) {
        xTicks.push(s);
      }
      xTicks.forEach(function (s) {
        svgEl('line', { x1: x(s), x2: x(s), y1: margin.top + plotH, y2: margin.top + plotH + 4, stroke: colors.border }, svg);
        text(svg, x(s), margin.top + plotH + 16, String(s), { 'text-anchor': 'middle', fill: colors.text });
      });
      text(svg, margin.left + plotW / 2, height - 6, 'trading days ahead', { 'text-anchor': 'middle', fill: colors.text });
      svgEl('rect', { x: margin.left, y: margin.top, width: plotW, height: plotH, fill: 'none', stroke: colors.border }, svg);

      // One path per run of scored steps: a missing step leaves a gap, not a false line.
      var path = '';
      var open = false;
      ratios.forEach(function (value, index) {
        if (value === null) {
          open = false;
          return;
        }
        path += (open ? ' L ' : ' M ') + x(index + 1).toFixed(1) + ' ' + y(value).toFixed(1);
        open = true;
      });
      svgEl('path', {
        d: path.trim(), fill: 'none', stroke: colors.model, 'stroke-width': 2,
        'stroke-linejoin': 'round', class: 'record-steps-model'
      }, svg);
      svgEl('line', {
        x1: margin.left, x2: margin.left + plotW, y1: y1, y2: y1,
        stroke: colors.naive, 'stroke-width': 1.5, 'stroke-dasharray': '2 3', class: 'record-steps-naive'
      }, svg);
      text(svg, margin.left + plotW - 4, y1 - 5, 'no change = 1', { 'text-anchor': 'end', fill: colors.naive });
      text(svg, margin.left + 6, margin.top + plotH - 6, 'better than no change', { fill: '#12805c' });
      text(svg, margin.left + 6, margin.top + 14, 'worse', { fill: '#a51d1d' });

      ratios.forEach(function (value, index) {
        if (value === null) {
          return;
        }
        var chosen = index + 1 === horizon;
        var dot = svgEl('circle', {
          cx: x(index + 1), cy: y(value), r: chosen ? 5 : 2.5,
          fill: chosen ? '#ffffff' : colors.model, stroke: colors.model, 'stroke-width': chosen ? 2.5 : 1
        }, svg);
        var title = svgEl('title', {}, dot);
        var p = pValues[index];
        title.textContent = (index + 1) + ' days ahead: ' + ratioText(value) +
          (SC.isFiniteNumber(p) ? ' (p = ' + p.toFixed(2) + ')' : '');
      });
      if (horizon >= 1 && horizon <= steps && ratios[horizon - 1] !== null) {
        var cx = x(horizon);
        var caption = horizon + (horizon === 1 ? ' day: ' : ' days: ') + ratioText(ratios[horizon - 1]);
        var anchor = cx > margin.left + plotW * 0.7 ? 'end' : (cx < margin.left + plotW * 0.3 ? 'start' : 'middle');
        text(svg, cx + (anchor === 'start' ? -4 : (anchor === 'end' ? 4 : 0)), margin.top - 10, caption, {
          'text-anchor': anchor, fill: colors.text, 'font-weight': 600, class: 'record-steps-label'
        });
      }

      while (container.firstChild) {
        container.removeChild(container.firstChild);
      }
      container.appendChild(svg);
    }

    container.hidden = false;
    render();
    if (window.ResizeObserver) {
      new window.ResizeObserver(render).observe(container);
    }
    return true;
  }

  /* The past forecasts at the chosen horizon beside what happened, over the scored year. */
  function drawPast(container, legend, past, horizon) {
    var LW = window.LightweightCharts;
    if (!LW) {
      return false;
    }
    var rows = [];
    var last = '';
    var columns = past && typeof past === 'object' && Array.isArray(past.date) ? past : null;
    var given = columns ? columns.date.map(function (date, i) {
      return {
        date: date, forecast: (columns.forecast || [])[i], actual: (columns.actual || [])[i],
        last_close: (columns.last_close || [])[i]
      };
    }) : [];
    given.forEach(function (row) {
      if (row && SC.isDate(row.date) && row.date > last &&
          (SC.isFiniteNumber(row.forecast) || SC.isFiniteNumber(row.actual))) {
        rows.push(row);
        last = row.date;
      }
    });
    if (rows.length < 2) {
      return false;
    }
    var colors = SC.chartColors();
    colors.forecast = SC.cssColor('--chart-forecast', '#d9480f');
    colors.actual = SC.cssColor('--chart-actual', '#212529');
    colors.naive = SC.cssColor('--chart-naive', '#495057');

    var naivePoints = [];
    var forecastPoints = [];
    var actualPoints = [];
    var values = [];
    var errorSum = 0;
    var priceSum = 0;
    var paired = 0;
    var byDay = {};
    rows.forEach(function (row) {
      byDay[row.date] = row;
      if (SC.isFiniteNumber(row.forecast)) {
        forecastPoints.push({ time: row.date, value: row.forecast });
        values.push(row.forecast);
      }
      if (SC.isFiniteNumber(row.actual)) {
        actualPoints.push({ time: row.date, value: row.actual });
        values.push(row.actual);
      }
      if (SC.isFiniteNumber(row.last_close)) {
        naivePoints.push({ time: row.date, value: row.last_close });
      }
      if (SC.isFiniteNumber(row.forecast) && SC.isFiniteNumber(row.actual)) {
        errorSum += Math.abs(row.forecast - row.actual);
        priceSum += Math.abs(row.actual);
        paired += 1;
      }
    });
    var days = horizon === 1 ? '1 trading day' : horizon + ' trading days';
    var description = 'Forecasts made ' + days + ' ahead against the actual close, ' +
      rows[0].date + ' to ' + rows[rows.length - 1].date + '.';
    if (paired) {
      description += ' Mean absolute error ' + SC.formatPrice(errorSum / paired) + ' (' +
        (100 * errorSum / priceSum).toFixed(1) + '% of the price) over ' + paired + ' forecasts.';
    }
    container.hidden = false;
    container.setAttribute('role', 'img');
    container.setAttribute('aria-label', description);

    var priceFormat = SC.priceFormat(values);
    var chart = LW.createChart(container, SC.baseOptions(container, colors, {
      handleScale: { mouseWheel: false }
    }));
    var actualSeries = chart.addSeries(LW.LineSeries, {
      color: colors.actual, lineWidth: 2, priceFormat: priceFormat,
      lastValueVisible: false, priceLineVisible: false, crosshairMarkerRadius: 3
    });
    actualSeries.setData(actualPoints);
    var forecastSeries = chart.addSeries(LW.LineSeries, {
      color: colors.forecast, lineWidth: 2, lineStyle: LW.LineStyle.Solid, priceFormat: priceFormat,
      lastValueVisible: false, priceLineVisible: false, crosshairMarkerRadius: 3
    });
    forecastSeries.setData(forecastPoints);
    // Drawn last, dotted, so it shows even where the forecast is "no change" and lies under it.
    var naiveSeries = chart.addSeries(LW.LineSeries, {
      color: colors.naive, lineWidth: 2, lineStyle: LW.LineStyle.Dotted, priceFormat: priceFormat,
      lastValueVisible: false, priceLineVisible: false, crosshairMarkerRadius: 3
    });
    naiveSeries.setData(naivePoints);
    SC.showBars(chart, 0, rows.length - 1);

    SC.followCrosshair(chart, container, function (date) {
      var row = byDay[date];
      if (!row) {
        return null;
      }
      var lines = [];
      if (SC.isFiniteNumber(row.forecast)) {
        lines.push({ kind: 'forecast', label: 'Forecast', value: SC.formatPrice(row.forecast) });
      }
      if (SC.isFiniteNumber(row.actual)) {
        lines.push({ kind: 'actual', label: 'Actual', value: SC.formatPrice(row.actual) });
      }
      if (SC.isFiniteNumber(row.last_close)) {
        lines.push({ kind: 'naive', label: 'No change', value: SC.formatPrice(row.last_close) });
      }
      if (SC.isFiniteNumber(row.forecast) && SC.isFiniteNumber(row.actual) && row.actual !== 0) {
        var error = row.forecast - row.actual;
        lines.push({
          kind: 'error', label: 'Error',
          value: SC.formatPrice(error, true) + ' (' + (error >= 0 ? '+' : '') + (100 * error / row.actual).toFixed(1) + '%)'
        });
      }
      return lines;
    });

    if (legend) {
      SC.fillLegend(legend, [
        { kind: 'forecast', label: 'Forecast ' + days + ' ahead' },
        { kind: 'actual-solid', label: 'Actual close' },
        { kind: 'naive', label: 'No change: the close ' + days + ' earlier' }
      ]);
      legend.hidden = false;
    }
    return true;
  }

  function init() {
    var source = document.getElementById('prediction-data');
    var steps = document.getElementById('record-steps-chart');
    var past = document.getElementById('record-past-chart');
    if (!source || (!steps && !past)) {
      return;
    }
    var data;
    try {
      data = JSON.parse(source.textContent);
    } catch (error) {
      return;  // the chart above says so; the tables still show the numbers
    }
    if (!data || typeof data !== 'object') {
      return;
    }
    var horizon = SC.isFiniteNumber(data.horizon) ? data.horizon : 0;
    try {
      if (steps && data.by_step) {
        drawSteps(steps, data.by_step, horizon);
      }
    } catch (error) {
      steps.hidden = true;
    }
    try {
      if (past && data.past) {
        drawPast(past, document.getElementById('record-past-legend'), data.past, horizon);
      }
    } catch (error) {
      past.hidden = true;
    }
  }

  SC.onReady(init);
}());
