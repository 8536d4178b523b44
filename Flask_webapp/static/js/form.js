/*
 * The forecast form (/predict, and the form a refused forecast brings back): when the ticker or
 * the model changes, the as-of field's min and max, the sentence naming them, and the warning for
 * a model trained on another ticker follow, from the page's own JSON (pages.predict_dates).
 *
 * Contract with templates/price_predict.html (without #forecast-form this does nothing):
 *   #forecast-form[data-dates-url]  answers ?ticker=&model= with
 *                                   {"earliest", "latest", "text", "warning"} (nulls when unknown)
 *   #f-ticker, #f-model, #f-as-of   the fields read and bounded
 *   #f-as-of-range                  the sentence "From 2012-08-14 to 2013-03-01 for FB."
 *   #f-model-warning                aria-live line for the model warning (empty when none)
 * The form works without this script: the server fills the same values when it renders the form,
 * and submitting never waits on it.
 */
(function () {
  'use strict';

  var form = document.getElementById('forecast-form');
  if (!form || !window.fetch) {
    return;
  }
  var ticker = document.getElementById('f-ticker');
  var model = document.getElementById('f-model');
  var asOf = document.getElementById('f-as-of');
  var range = document.getElementById('f-as-of-range');
  var warning = document.getElementById('f-model-warning');
  var url = form.getAttribute('data-dates-url');
  var latestAsked = 0;

  function show(found) {
    ['min', 'max'].forEach(function (name, i) {
      var value = i === 0 ? found.earliest : found.latest;
      if (value) {
        asOf.setAttribute(name, value);
      } else {
        asOf.removeAttribute(name);
      }
    });
    range.textContent = found.text || '';
    warning.textContent = found.warning || '';
  }

  function update() {
    var typed = ticker.value.trim();
    // A ticker the pattern refuses gets the server's message on submit; nothing to look up.
    if (!typed || ticker.validity.patternMismatch) {
      show({});
      return;
    }
    var asked = ++latestAsked;
    var query = '?ticker=' + encodeURIComponent(typed) + '&model=' + encodeURIComponent(model.value);
    fetch(url + query, { headers: { Accept: 'application/json' } })
      .then(function (answer) { return answer.ok ? answer.json() : {}; })
      .then(function (found) {
        if (asked === latestAsked) { // an older answer never overwrites a newer one
          show(found);
        }
      })
      .catch(function () { /* the bounds are a help; the server still checks the date */ });
  }

  ticker.addEventListener('change', update);
  model.addEventListener('change', update);
}());
