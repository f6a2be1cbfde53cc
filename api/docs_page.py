"""The interactive API docs page (`/schema`): Scalar, served by the app itself.

Litestar's default loads Scalar's newest release and its stylesheet from a CDN, so offline the
page is blank and online its version floats. The bundle is vendored (`static/vendor/scalar/`,
with its licence) and Scalar's web fonts are turned off: the page needs nothing but this app.
"""

from __future__ import annotations

from litestar.openapi.plugins import ScalarRenderPlugin

SCALAR_JS = "/static/vendor/scalar/standalone.js"
DOCS_CSS = "/static/docs.css"


def docs_page() -> ScalarRenderPlugin:
    return ScalarRenderPlugin(
        js_url=SCALAR_JS,
        css_url=DOCS_CSS,
        favicon="",
        options={"withDefaultFonts": False},
    )
