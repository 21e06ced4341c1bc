"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) on ``/openapi.json``, served offline.

FastAPI's own pages load both from a CDN, so they are blank on the machines this tool is for.
Here their assets come from the emulator itself: the Swagger UI bundle, its stylesheet, the
ReDoc standalone bundle and a favicon, as the ``fastapi-offline`` package ships them (a
maintained dependency, not files copied into this repository), under ``/docs/assets``.

Both pages carry a Content-Security-Policy that lets them load from this server only: ReDoc
would otherwise fetch its vendor's logo from the web (an ``<img>`` it drops when that fails).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS = "/docs"
REDOC = "/redoc"
ASSETS = "/docs/assets"
# The package and folder the assets come from.
ASSET_PACKAGE = ("fastapi_offline", "static")
# Inline scripts and styles: the pages' own bootstrap script, and the styles ReDoc injects;
# blob: for ReDoc's web worker; data: for the images the bundles embed.
SELF_ONLY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'"
)


def install(app: FastAPI) -> None:
    """Serve the two pages and their assets; ``app`` is built with ``docs_url=None`` and
    ``redoc_url=None`` so FastAPI's CDN-bound pages do not exist."""
    app.mount(ASSETS, StaticFiles(packages=[ASSET_PACKAGE]), name="api-docs-assets")
    title = app.title

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return _self_only(
            get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{title} - Swagger UI",
                swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            )
        )

    @app.get(REDOC, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return _self_only(
            get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
                with_google_fonts=False,  # fonts from the web: the system's serve offline
            )
        )


def _root(request: Request) -> str:
    """The prefix the app is served under (``--root-path`` behind a proxy), if any."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _self_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = SELF_ONLY
    return page
