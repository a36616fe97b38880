// Starts Swagger UI on /docs (an external file: the page's CSP forbids inline script).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // no calls to an outside validator
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
