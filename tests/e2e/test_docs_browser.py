"""The API docs page (`/schema`) in Debian's headless Chromium with every request off the API's
own host refused: it renders the operations from the app's files alone, at a pinned version."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route, expect

from api.docs_page import SCALAR_JS
from tests.browser import shoot
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def test_the_docs_page_renders_offline(stack: Stack, browser: Browser) -> None:
    api_host = urlsplit(stack.api_url).netloc
    refused: list[str] = []
    loaded: list[str] = []

    def offline(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == api_host:
            loaded.append(urlsplit(url).path)
            route.continue_()
        else:
            refused.append(url)
            route.abort("internetdisconnected")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route("**/*", offline)
    try:
        page = context.new_page()
        page.goto(f"{stack.api_url}/schema")
        expect(page.get_by_text("Import up to 10,000 contacts").first).to_be_visible(timeout=20_000)
        expect(page.get_by_text("OliAI Contacts Imports API").first).to_be_visible()
        shoot(page, "08-api-docs-offline")
    finally:
        context.close()
    assert refused == []
    assert SCALAR_JS in loaded
    assert "/schema/openapi.json" in loaded
