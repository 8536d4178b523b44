/*
 * Helpers every chart script shares, as window.StockCharts. Loaded (with defer) after the vendored
 * lightweight-charts and before stock_info.js, stock_predict.js or record_charts.js.
 */
(function () {
  'use strict';

  // Significant digits a price keeps on a page, and never fewer decimals than this: the
  // server's rule (rounding.PAGE_DIGITS, PAGE_DECIMALS), given on <body data-price-*>.
  var PRICE_DIGITS = Number(document.body.getAttribute('data-price-digits'));
  var PRICE_DECIMALS = Number(document.body.getAttribute('data-price-decimals'));

  function cssColor(name, fallback) {
    var value = window.getComputedStyle(document.documentElement).getPropertyValue(name);
    return value && value.trim() ? value.trim() : fallback;
  }

  function setStatus(statusEl, message, isError) {
    if (!statusEl) {
      return;
    }
    statusEl.textContent = message;
    statusEl.classList.toggle('chart-status-error', Boolean(isError));
  }

  function isFiniteNumber(value) {
    return typeof value === 'number' && isFinite(value);
  }

  function isDate(value) {
    return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value);
  }

  /* Rows with a date and a finite close, ascending and unique: the library throws on anything else. */
  function cleanRows(rows) {
    var kept = [];
    var lastDate = '';
    (Array.isArray(rows) ? rows : []).forEach(function (row) {
      if (row && isDate(row.date) && isFiniteNumber(row.close) && row.date > lastDate) {
        kept.push(row);
        lastDate = row.date;
      }
    });
    return kept;
  }

  /* Decimal places that keep PRICE_DIGITS significant digits of value, at least PRICE_DECIMALS. */
  function priceDecimals(value) {
    if (!isFiniteNumber(value) || value === 0) {
      return PRICE_DECIMALS;
    }
    var places = PRICE_DIGITS - 1 - Math.floor(Math.log10(Math.abs(value)));
    return Math.min(20, Math.max(PRICE_DECIMALS, places));
  }

  function groupThousands(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  /* A price for people: 0.0839 -> "0.08390", 14566.65 -> "14,566.65" (same rule as the server). */
  function formatPrice(value, sign) {
    if (!isFiniteNumber(value)) {
      return 'n/a';
    }
    var text = Math.abs(value).toFixed(priceDecimals(value));
    var parts = text.split('.');
    var body = groupThousands(parts[0]) + (parts.length > 1 ? '.' + parts[1] : '');
    var negative = value < 0 && Number(text) !== 0;
    return (negative ? '-' : (sign ? '+' : '')) + body;
  }

  /* formatPrice with one argument: the library passes more to formatters than a price. */
  function plainPrice(value) {
    return formatPrice(value);
  }

  /* A whole number with thousands separators (volumes). */
  function formatCount(value) {
    return isFiniteNumber(value) ? groupThousands(String(Math.round(Math.abs(value)))) : 'n/a';
  }

  /* A chart time (ISO string, business day object or UTC seconds) as YYYY-MM-DD. */
  function isoDate(time) {
    if (typeof time === 'string') {
      return time;
    }
    if (isFiniteNumber(time)) {
      return new Date(time * 1000).toISOString().slice(0, 10);
    }
    if (time && isFiniteNumber(time.year)) {
      var pad = function (n) { return (n < 10 ? '0' : '') + n; };
      return time.year + '-' + pad(time.month) + '-' + pad(time.day);
    }
    return '';
  }

  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  /* Axis labels in one calendar style: a year as 2013, a month as Mar, a day as Mar 15. Short,
     so a phone's axis keeps several, and none is clipped at the chart's edge. */
  function tickMark(time, tickMarkType) {
    var iso = isoDate(time);
    var LW = window.LightweightCharts;
    var types = (LW && LW.TickMarkType) || { Year: 0, Month: 1 };
    var month = MONTHS[Number(iso.slice(5, 7)) - 1] || '';
    if (tickMarkType === types.Year) {
      return iso.slice(0, 4);
    }
    if (tickMarkType === types.Month) {
      return month;
    }
    return month + ' ' + Number(iso.slice(8, 10));
  }

  /* The series priceFormat for these prices: formatPrice, with a step fine enough for the smallest. */
  function priceFormat(values) {
    var smallest = Infinity;
    values.forEach(function (value) {
      if (isFiniteNumber(value) && value !== 0) {
        smallest = Math.min(smallest, Math.abs(value));
      }
    });
    var places = priceDecimals(isFinite(smallest) ? smallest : 1);
    return { type: 'custom', formatter: plainPrice, minMove: Math.pow(10, -places) };
  }

  /* The options every chart shares: colours from CSS, ISO dates, prices through formatPrice. */
  function baseOptions(container, colors, extra) {
    var LW = window.LightweightCharts;
    // No logo link inside the chart's role="img" box (a nested interactive element and a tab
    // stop off the site): the page's footer names TradingView and links to it, as its licence asks.
    var options = {
      autoSize: true,
      layout: {
        attributionLogo: false,
        background: { type: LW.ColorType.Solid, color: colors.background },
        textColor: colors.text,
        fontFamily: window.getComputedStyle(container).fontFamily
      },
      localization: { timeFormatter: isoDate, priceFormatter: plainPrice },
      grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
      rightPriceScale: { borderColor: colors.border, scaleMargins: { top: 0.1, bottom: 0.1 } },
      timeScale: {
        borderColor: colors.border,
        lockVisibleTimeRangeOnResize: true,
        tickMarkFormatter: tickMark,
        tickMarkMaxCharacterLength: 6
      },
      crosshair: { mode: LW.CrosshairMode.Normal },
      // Let a vertical swipe over the chart scroll the page on phones.
      handleScroll: { vertTouchDrag: false }
    };
    Object.keys(extra || {}).forEach(function (key) {
      var value = extra[key];
      if (value && typeof value === 'object' && options[key] && typeof options[key] === 'object') {
        Object.keys(value).forEach(function (inner) { options[key][inner] = value[inner]; });
      } else {
        options[key] = value;
      }
    });
    return options;
  }

  /* The common colours, read from the --chart-* custom properties. */
  function chartColors() {
    return {
      text: cssColor('--chart-text', '#343a40'),
      grid: cssColor('--chart-grid', '#eef0f3'),
      border: cssColor('--chart-border', '#d0d5dc'),
      background: cssColor('--chart-background', '#ffffff')
    };
  }

  /*
   * A small box inside a chart container that follows the crosshair. show(title, rows, point)
   * with rows [{label, value, kind?}]; hide() when the crosshair leaves the data.
   */
  function createTooltip(container) {
    var box = document.createElement('div');
    box.className = 'chart-tooltip';
    box.hidden = true;
    // The figures are in the page's tables; the box only repeats them for a pointer.
    box.setAttribute('aria-hidden', 'true');
    container.appendChild(box);

    function show(title, rows, point) {
      while (box.firstChild) {
        box.removeChild(box.firstChild);
      }
      var heading = document.createElement('div');
      heading.className = 'chart-tooltip-date';
      heading.textContent = title;
      box.appendChild(heading);
      rows.forEach(function (row) {
        var line = document.createElement('div');
        line.className = 'chart-tooltip-row' + (row.kind ? ' chart-tooltip-' + row.kind : '');
        var label = document.createElement('span');
        label.className = 'chart-tooltip-label';
        label.textContent = row.label;
        var value = document.createElement('span');
        value.className = 'chart-tooltip-value';
        value.textContent = row.value;
        line.appendChild(label);
        line.appendChild(value);
        box.appendChild(line);
      });
      box.hidden = false;
      var gap = 14;
      var width = container.clientWidth;
      var height = container.clientHeight;
      var boxWidth = box.offsetWidth;
      var boxHeight = box.offsetHeight;
      var left = point.x + gap;
      if (left + boxWidth > width - 4) {
        left = point.x - gap - boxWidth;
      }
      var top = point.y + gap;
      if (top + boxHeight > height - 4) {
        top = point.y - gap - boxHeight;
      }
      box.style.left = Math.max(4, Math.min(left, width - boxWidth - 4)) + 'px';
      box.style.top = Math.max(4, Math.min(top, height - boxHeight - 4)) + 'px';
    }

    function hide() {
      box.hidden = true;
    }

    return { element: box, show: show, hide: hide };
  }

  /* Follow the crosshair with tooltip: rowsFor(isoDate) gives the rows, or none to hide it. A
     tap shows it too: on a touch screen the crosshair itself waits for a long press. */
  function followCrosshair(chart, container, rowsFor) {
    var tooltip = createTooltip(container);
    function follow(param) {
      if (!param || param.time === undefined || !param.point ||
          param.point.x < 0 || param.point.y < 0) {
        tooltip.hide();
        return;
      }
      var date = isoDate(param.time);
      var rows = rowsFor(date);
      if (!rows || !rows.length) {
        tooltip.hide();
        return;
      }
      tooltip.show(date, rows, param.point);
    }
    chart.subscribeCrosshairMove(follow);
    chart.subscribeClick(follow);
    return tooltip;
  }

  /* Show bars first to last (logical indexes) with room at each side for a date label centred
     on an edge bar: fitContent puts them on the edges, where their labels are cut. */
  function showBars(chart, first, last) {
    var width = Math.max(1, chart.chartElement().clientWidth - 60);
    var bars = Math.max(1, last - first + 1);
    var margin = Math.min(bars * 0.2, 24 * bars / width);
    chart.timeScale().setVisibleLogicalRange({ from: first - margin, to: last + margin });
  }

  function pressOnly(buttons, pressed) {
    buttons.forEach(function (button) {
      button.setAttribute('aria-pressed', button === pressed ? 'true' : 'false');
    });
  }

  /* Fill a legend <ul> with [{kind, label}] entries, each with its swatch. */
  function fillLegend(legend, items) {
    legend.classList.add('chart-legend');
    while (legend.firstChild) {
      legend.removeChild(legend.firstChild);
    }
    items.forEach(function (item) {
      var entry = document.createElement('li');
      entry.setAttribute('data-kind', item.kind);
      var swatch = document.createElement('span');
      swatch.className = 'legend-swatch legend-swatch-' + item.kind;
      swatch.setAttribute('aria-hidden', 'true');
      entry.appendChild(swatch);
      entry.appendChild(document.createTextNode(item.label));
      legend.appendChild(entry);
    });
  }

  function onReady(init) {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', init);
    } else {
      init();
    }
  }

  window.StockCharts = {
    cssColor: cssColor,
    setStatus: setStatus,
    isFiniteNumber: isFiniteNumber,
    isDate: isDate,
    cleanRows: cleanRows,
    formatPrice: formatPrice,
    formatCount: formatCount,
    isoDate: isoDate,
    tickMark: tickMark,
    priceFormat: priceFormat,
    baseOptions: baseOptions,
    chartColors: chartColors,
    createTooltip: createTooltip,
    followCrosshair: followCrosshair,
    pressOnly: pressOnly,
    showBars: showBars,
    fillLegend: fillLegend,
    onReady: onReady
  };
}());
