/*
 * The API docs page (templates/api_docs.html): Swagger UI, vendored in static/vendor/swagger-ui,
 * rendering the app's OpenAPI document. Started from this file rather than an inline script, so
 * the page keeps the site's Content-Security-Policy (script-src 'self').
 */
(function () {
  "use strict";

  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  // The page's own heading and introduction say what Swagger UI's info block would repeat.
  var noInfoBlock = function () {
    return { wrapComponents: { info: function () { return function () { return null; }; } } };
  };
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    plugins: [noInfoBlock],
    // Nothing leaves the server: no validator badge, which would send the document to
    // validator.swagger.io, and no ?url= or ?configUrl= that could point the page elsewhere.
    validatorUrl: null,
    queryConfigEnabled: false,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    tryItOutEnabled: false
  });
})();
