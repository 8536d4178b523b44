/*
 * A training job's page (templates/job.html): polls the job's JSON each second, shows its
 * status, queue position, epoch, elapsed time and time left, and draws the training and
 * validation loss as inline SVG as each epoch arrives. When the job ends it stops polling,
 * fetches the server-rendered result block (?fragment=result) and swaps it in: no reload.
 *
 * Contract with the templates (without #job this only draws the charts it finds):
 *   #job[data-api][data-result][data-status]   the job's JSON, its result fragment, its status
 *   #job-status #job-line #job-position #job-epoch #job-elapsed #job-eta #loss-last  text
 *   #job-live, #no-worker, #job-result          the live card, the no-worker notice, the result
 *   svg.loss-chart[data-loss][data-val-loss][data-epochs]   a loss chart (JSON arrays)
 * The page works without this script: the server renders the same figures; a reload updates.
 */
(function () {
  'use strict';

  var SVG = 'http://www.w3.org/2000/svg';
  var DONE = ['succeeded', 'failed', 'cancelled'];
  var HEIGHT = 220;
  var PAD = { left: 56, right: 12, top: 12, bottom: 30 };
  var POLL_MS = 1000;

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function numbers(list) {
    return (list || []).filter(function (v) { return typeof v === 'number' && isFinite(v); });
  }

  function draw(svg, loss, valLoss, epochs) {
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var width = Math.max(240, Math.round(svg.getBoundingClientRect().width) || 600);
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + HEIGHT);
    var all = numbers(loss).concat(numbers(valLoss));
    var n = Math.max(epochs || 0, (loss || []).length, (valLoss || []).length, 2);
    var plotW = width - PAD.left - PAD.right;
    var plotH = HEIGHT - PAD.top - PAD.bottom;
    var low = all.length ? Math.min.apply(null, all) : 0;
    var high = all.length ? Math.max.apply(null, all) : 1;
    if (high - low < 1e-12) { high = low + Math.abs(low || 1) * 0.1; }
    var span = high - low;
    low -= span * 0.06;
    high += span * 0.06;
    function x(i) { return PAD.left + (n <= 1 ? 0 : (i / (n - 1)) * plotW); }
    function y(v) { return PAD.top + (1 - (v - low) / (high - low)) * plotH; }

    el('rect', { x: PAD.left, y: PAD.top, width: plotW, height: plotH, 'class': 'loss-plot' }, svg);
    for (var g = 0; g <= 3; g += 1) {
      var value = low + ((high - low) * g) / 3;
      var gy = y(value);
      el('line', { x1: PAD.left, x2: PAD.left + plotW, y1: gy, y2: gy, 'class': 'loss-grid' }, svg);
      var label = el('text', { x: PAD.left - 6, y: gy + 4, 'class': 'loss-axis', 'text-anchor': 'end' }, svg);
      label.textContent = all.length ? value.toPrecision(2) : '';
    }
    var ticks = n <= 10 ? n : 5;
    for (var t = 0; t < ticks; t += 1) {
      var i = ticks === n ? t : Math.round((t * (n - 1)) / (ticks - 1));
      var tick = el('text', { x: x(i), y: HEIGHT - 10, 'class': 'loss-axis', 'text-anchor': 'middle' }, svg);
      tick.textContent = String(i + 1);
    }
    var axis = el('text', { x: PAD.left + plotW, y: HEIGHT - 10, 'class': 'loss-axis loss-axis-name', 'text-anchor': 'end' }, svg);
    axis.textContent = n > 10 ? 'epoch' : '';
    [[loss, 'loss-line loss-train'], [valLoss, 'loss-line loss-val']].forEach(function (pair) {
      var points = [];
      (pair[0] || []).forEach(function (v, i) {
        if (typeof v === 'number' && isFinite(v)) { points.push(x(i).toFixed(1) + ',' + y(v).toFixed(1)); }
      });
      if (points.length > 1) { el('polyline', { points: points.join(' '), 'class': pair[1] }, svg); }
      points.forEach(function (p) {
        var xy = p.split(',');
        el('circle', { cx: xy[0], cy: xy[1], r: 3, 'class': pair[1] + ' loss-dot' }, svg);
      });
    });
    var last = (loss || []).length;
    svg.setAttribute('aria-label', last ? 'Training and validation loss over ' + last + ' of ' + n + ' epochs'
      : 'Training and validation loss: none yet');
  }

  function drawStored(svg) {
    var read = function (name) {
      try { return JSON.parse(svg.getAttribute(name) || '[]'); } catch (e) { return []; }
    };
    draw(svg, read('data-loss'), read('data-val-loss'), Number(svg.getAttribute('data-epochs')) || 0);
  }

  function drawAll() {
    Array.prototype.forEach.call(document.querySelectorAll('svg.loss-chart'), drawStored);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return 'n/a'; }
    if (seconds > 0 && seconds < 9.95) { return seconds.toFixed(1) + ' s'; }
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) { return s + ' s'; }
    var rest = s % 60;
    return Math.floor(s / 60) + ' min ' + (rest < 10 ? '0' : '') + rest + ' s';
  }

  function text(id, value) {
    var node = document.getElementById(id);
    if (node && node.textContent !== value) { node.textContent = value; }
  }

  function line(job, p) {
    if (job.status === 'queued') {
      return job.position === 0 ? 'Next in the queue: it starts as soon as a worker is free.'
        : 'Waiting in the queue: ' + job.position + ' job' + (job.position === 1 ? '' : 's') + ' ahead of it.';
    }
    if (job.status !== 'running') { return 'The job has ended.'; }
    if (job.cancel_requested) { return 'Stopping: the cancel was asked for.'; }
    if (p.phase === 'training') { return 'Training: epoch ' + p.epoch + ' of ' + p.epochs + '.'; }
    if (p.phase === 'judging') { return 'Judging the model on its validation and test days.'; }
    if (p.phase === 'saving') { return 'Saving the model.'; }
    return 'Loading the prices.';
  }

  var root = document.getElementById('job');
  drawAll();
  window.addEventListener('resize', function () {
    clearTimeout(drawAll.timer);
    drawAll.timer = setTimeout(drawAll, 150);
  });
  if (!root || !window.fetch || DONE.indexOf(root.getAttribute('data-status')) >= 0) {
    return;
  }
  var chart = document.getElementById('loss-chart');
  var lastEpoch = -1;
  var failures = 0;

  function show(job) {
    var p = job.progress || {};
    var badge = document.getElementById('job-status');
    if (badge) {
      badge.className = 'status-badge status-' + job.status;
      text('job-status', job.status.charAt(0).toUpperCase() + job.status.slice(1));
    }
    text('job-line', line(job, p));
    text('job-position', job.status === 'queued' ? String(job.position + 1) : 'none: it runs');
    text('job-epoch', (p.epoch || 0) + ' of ' + (p.epochs || job.settings.epochs));
    text('job-elapsed', duration(job.elapsed_s));
    text('job-eta', duration(job.eta_s));
    var notice = document.getElementById('no-worker');
    if (notice) { notice.hidden = job.worker.seen || DONE.indexOf(job.status) >= 0; }
    var loss = p.loss || [];
    if (chart && loss.length !== lastEpoch) {
      lastEpoch = loss.length;
      chart.setAttribute('data-loss', JSON.stringify(loss));
      chart.setAttribute('data-val-loss', JSON.stringify(p.val_loss || []));
      chart.setAttribute('data-epochs', String(p.epochs || job.settings.epochs));
      drawStored(chart);
      if (loss.length) {
        var val = (p.val_loss || [])[loss.length - 1];
        text('loss-last', 'After epoch ' + p.epoch + ': training ' + loss[loss.length - 1].toPrecision(4)
          + (typeof val === 'number' ? ', validation ' + val.toPrecision(4) : '') + '.');
      }
    }
    if (job.cancel_requested) {
      var button = document.querySelector('#cancel-form button');
      if (button) { button.disabled = true; }
    }
  }

  function finish() {
    fetch(root.getAttribute('data-result'), { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (answer) {
        if (!answer.ok) { throw new Error('status ' + answer.status); }
        return answer.text();
      })
      .then(function (html) {
        document.getElementById('job-result').innerHTML = html;
        var live = document.getElementById('job-live');
        if (live) { live.hidden = true; }
        drawAll();
        var heading = document.getElementById('outcome-title');
        if (heading) { heading.setAttribute('tabindex', '-1'); heading.focus(); }
      })
      .catch(function () {
        text('job-line', 'The job has ended; reload the page to see its result.');
      });
  }

  function poll() {
    fetch(root.getAttribute('data-api'), { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then(function (answer) {
        if (!answer.ok) { throw new Error('status ' + answer.status); }
        return answer.json();
      })
      .then(function (job) {
        failures = 0;
        show(job);
        if (DONE.indexOf(job.status) >= 0) {
          finish();
          return;
        }
        setTimeout(poll, POLL_MS);
      })
      .catch(function () {
        // A missed answer (a deploy, a blip) is retried, more slowly each time, up to a minute.
        failures += 1;
        setTimeout(poll, Math.min(60000, POLL_MS * Math.pow(2, failures)));
      });
  }

  setTimeout(poll, POLL_MS);
}());
