"""Headers every answer carries: no framing (clickjacking), no sniffing of content types, no
referrer beyond this site, a Content-Security-Policy that allows only the app's own scripts and
styles (it has no inline ones), and, when cookies are sent over HTTPS only, HSTS."""

from __future__ import annotations

from flask import Flask, Response, current_app, request

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        # No form-action: "Authorise" posts to the hub, which redirects to the OAuth provider, and
        # browsers hold a form's redirects to form-action too.
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
# The API's documentation page is Swagger UI's own, with its inline start-up script.
DOCS_CSP = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", DOCS_CSP if request.path.startswith("/api/docs") else CSP)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
