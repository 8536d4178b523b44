/*
 * Helpers both chart scripts share, as window.StockCharts. Loaded (with defer) after the vendored
 * lightweight-charts and before stock_info.js or stock_predict.js.
 */
(function () {
  'use strict';

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

  window.StockCharts = {
    cssColor: cssColor,
    setStatus: setStatus,
    isFiniteNumber: isFiniteNumber,
    cleanRows: cleanRows
  };
}());
