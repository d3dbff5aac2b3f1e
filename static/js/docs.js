// Swagger UI for /openapi.json (a file, not an inline script: the pages' CSP allows no inline code).
const root = document.getElementById("swagger-ui");
const csrf = document.querySelector('meta[name="csrf-token"]')?.content;

window.SwaggerUIBundle({
  url: root.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  // No deep links: Swagger draws them as a link inside the summary button (a nested control).
  deepLinking: false,
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  // Signed in by cookie on a server with a token: "Try it out" needs the page's CSRF token too.
  requestInterceptor: (request) => {
    if (csrf) request.headers["X-CSRF-Token"] = csrf;
    return request;
  },
});
