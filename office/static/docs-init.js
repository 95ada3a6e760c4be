// Swagger UI for the office API, served from the package (no CDN), started without inline script.
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
