/*
 * Our own sentence for a ticker the browser refuses, instead of only "Please match the
 * requested format".
 *
 * Contract with templates (_search.html, forecasts.html): every input[data-rule] with a
 * pattern gets, while its value breaks the pattern or it is required and empty, a custom
 * validity message built from data-rule (RULES["ticker_rule"] in pages.py, the sentence the
 * server's 422 uses). Typing clears a message the server put beside the field
 * (aria-invalid="true") only once the value is valid again.
 */
(function () {
  'use strict';

  function sentence(input) {
    var value = input.value.trim();
    if (!value) {
      return input.required ? 'Type a ticker, for example IBM.' : '';
    }
    // Checked afresh: a custom message set earlier would otherwise keep the field invalid.
    input.setCustomValidity('');
    if (input.validity.patternMismatch || input.validity.tooLong) {
      var shown = value.length > 20 ? value.slice(0, 20) + '…' : value;
      // Worded as the server words it (schemas' ticker field), quotes included.
      return "'" + shown + "' is not a ticker: use " + input.dataset.rule + '.';
    }
    return '';
  }

  function check(input) {
    var message = sentence(input);
    input.setCustomValidity(message);
    if (!message && input.getAttribute('aria-invalid') === 'true') {
      input.removeAttribute('aria-invalid');
    }
  }

  document.querySelectorAll('input[data-rule][pattern]').forEach(function (input) {
    check(input);
    input.addEventListener('input', function () { check(input); });
  });
})();
