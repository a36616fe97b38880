// Starts ReDoc on /redoc (an external file: the page's CSP forbids inline script).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("redoc");
  window.Redoc.init(root.getAttribute("data-openapi-url"), { hideDownloadButton: false }, root);
});
