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
  // Swagger UI's own layout (BaseLayout) puts the operations in a <main> of its own: a second
  // main landmark, inside the site's <main>. This layout is the same but for that, the info
  // block (the page's heading and introduction say it) and the servers picker (the document
  // names one server, the one it came from).
  var docsLayout = function (system) {
    var h = system.React.createElement;
    var DocsLayout = function (props) {
      var get = props.getComponent;
      var spec = props.specSelectors;
      var Row = get("Row");
      var Col = get("Col");
      var Errors = get("errors", true);
      var status = spec.loadingStatus();
      if (status === "failed" || status === "failedConfig") {
        return h("div", { className: "swagger-ui" },
          h("p", { className: "api-docs-status", role: "alert" },
            "The API description could not be loaded."),
          h(Errors));
      }
      if (!spec.specStr()) {
        return h("div", { className: "swagger-ui" },
          h("p", { className: "api-docs-status" }, "Loading the API description\u2026"));
      }
      var full = function (child) {
        return h(Row, null, h(Col, { mobile: 12, desktop: 12 }, child));
      };
      return h("div", { className: "swagger-ui" },
        h(get("SvgAssets")), h(Errors),
        h("div", { id: "operations" }, full(h(get("operations", true))),
          full(h(get("Models", true)))));
    };
    return { components: { DocsLayout: DocsLayout } };
  };

  // "GET /api/v1/models": the operation an element belongs to, in words.
  var operationOf = function (element) {
    var block = element.closest(".opblock");
    var method = block && block.querySelector(".opblock-summary-method");
    var path = block && block.querySelector(".opblock-summary-path");
    return method && path ? method.textContent + " " + path.getAttribute("data-path") : "";
  };

  // What axe-core finds in Swagger UI's own markup, mended after each render: the example
  // pickers' visible "Examples:" and a parameter's name are not the <select>'s <label>; each
  // operation's answers are a role=region table with no name, so every one is the same landmark;
  // and a long example or command scrolls in its box, which a keyboard reaches only if the box
  // can take focus.
  var mend = function () {
    root.querySelectorAll("select.examples-select-element").forEach(function (select) {
      var request = select.closest(".opblock-section-request-body, .request-body");
      select.setAttribute("aria-label", request ? "Example request" : "Example answer");
    });
    root.querySelectorAll("tr[data-param-name] select:not([aria-label])").forEach(function (select) {
      select.setAttribute("aria-label", select.closest("tr").getAttribute("data-param-name"));
    });
    root.querySelectorAll("table.responses-table[role=region]").forEach(function (table) {
      table.setAttribute("aria-label", ("Responses of " + operationOf(table)).trim());
    });
    // In the Schemas section, a nested object's toggle shows only an arrow: name its field.
    root.querySelectorAll("button.model-box-control").forEach(function (button) {
      var row = button.closest("tr.property-row");
      if (!button.textContent.trim() && row && row.cells.length) {
        button.setAttribute("aria-label", "Show or hide " + row.cells[0].textContent.trim());
      }
    });
    root.querySelectorAll("pre").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight;
      if (scrolls) {
        box.setAttribute("tabindex", "0");
      } else {
        box.removeAttribute("tabindex");
      }
    });
  };
  var pending = false;
  var later = function () {
    if (!pending) {
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        mend();
      });
    }
  };
  // Attributes are not observed, so mend's own changes do not call it again.
  new MutationObserver(later).observe(root, { childList: true, subtree: true });
  window.addEventListener("resize", later);

  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    plugins: [docsLayout],
    layout: "DocsLayout",
    // Nothing leaves the server: no validator badge, which would send the document to
    // validator.swagger.io, and no ?url= or ?configUrl= that could point the page elsewhere.
    validatorUrl: null,
    queryConfigEnabled: false,
    // Off: a deep link is an <a> inside each operation's summary <button>, an interactive
    // control nested in another, which screen readers announce badly.
    deepLinking: false,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    syntaxHighlight: { activated: true, theme: "idea" }
  });
})();
