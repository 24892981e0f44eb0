// Renders the OpenAPI description with the bundled viewer. "Try it out" calls go out as the
// signed-in Jupyter user: the login cookie travels with them, and the XSRF cookie is echoed in
// the header Jupyter checks on writes.
(function () {
  const root = document.getElementById('opensink-docs');
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
  window.opensinkDocs = SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    tryItOutEnabled: false,
    validatorUrl: null,
    requestInterceptor: function (request) {
      if (xsrf) {
        request.headers['X-XSRFToken'] = decodeURIComponent(xsrf);
      }
      return request;
    }
  });
})();
