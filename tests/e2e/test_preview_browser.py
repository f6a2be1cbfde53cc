"""The preview flow in a real browser (Debian's headless Chromium via Playwright): choose a file,
Preview, map its columns, change the options, Preview again, Import; and each kind of file as
people have them (Windows-1252, Latin-1, Excel's UTF-16 "Unicode Text", an unclosed quote) with
what the page says. Screenshots: test-artifacts/ui/preview-*.png."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import shoot
from tests.e2e.test_ui_browser import no_sideways_scroll
from tests.integration.test_ui_preview import SPANISH
from tests.stack import Stack
from tests.ui_support import PASSWORD, new_user

pytestmark = pytest.mark.e2e


def signed_in_page(browser: Browser, stack: Stack, email: str, width: int) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(30_000)
    page.goto(stack.api_url + "/ui/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(stack.api_url + "/ui/imports")
    return page


def preview(page: Page, stack: Stack, path: Path) -> None:
    page.goto(stack.api_url + "/ui/imports/new")
    page.set_input_files("input[name=file]", str(path))
    page.click("#preview-button")
    page.wait_for_url(re.compile(re.escape(stack.api_url) + r"/ui/imports/preview/drf_\w+$"))


def expect_counts(page: Page, create: int, update: int, skip: int, fail: int) -> None:
    for action, number in (("create", create), ("update", update), ("skip", skip),
                           ("fail", fail)):  # fmt: skip
        expect(page.locator(f"#would-{action}")).to_have_text(str(number))


@pytest.mark.parametrize("width", [1280, 390])
def test_map_preview_and_import(stack: Stack, browser: Browser, tmp_path: Path, width: int) -> None:
    email, org = new_user(stack)
    key = stack.new_org_key(org)
    seeded = stack.post_import(
        {"contacts": [{"name": "José", "phoneNumber": "+34612345678"}]}, key
    ).json()["importId"]
    stack.wait_for_terminal(seeded, key)
    path = tmp_path / "clientes.csv"
    path.write_bytes(SPANISH)
    page = signed_in_page(browser, stack, email, width)
    try:
        preview(page, stack, path)
        expect(page.locator("#read-as")).to_contain_text(
            "Read as Windows-1252 (Western European, Latin-1) (detected)."
        )
        expect(page.locator("#columns-table tbody tr").first).to_contain_text("José Muñoz")
        expect(page.locator("#preview-error")).to_contain_text(
            "clientes.csv, header: no name or phoneNumber column (found: 'Nombre', 'Móvil', "
            "'Idioma', 'Ciudad', 'Notas')."
        )
        expect(page.locator("#import-button")).to_have_count(0)
        no_sideways_scroll(page)
        shoot(page, f"preview-1-guessed-{width}")

        for index, target in enumerate(["name", "phoneNumber", "language", "metadata", "drop"]):
            page.select_option(f"select[name=column-{index}]", target)
        expect(page.locator("#stale-hint")).to_be_visible()
        page.click("#preview-again")
        expect_counts(page, create=1, update=1, skip=0, fail=2)
        expect(page.locator("#top-errors li")).to_have_count(2)
        expect(page.locator("#top-errors li[data-code=missing_plus]")).to_have_text(
            "1 row: phone number without country code — set a default country or add + missing_plus"
        )
        shoot(page, f"preview-2-mapped-{width}")

        page.fill("input[name=defaultCountry]", "es")
        page.locator("input[name=defaultCountry]").dispatch_event("change")
        expect(page.locator("#import-button")).to_be_disabled()  # the counts shown are stale
        page.click("#preview-again")
        expect_counts(page, create=2, update=1, skip=0, fail=1)
        expect(page.locator("select[name=column-4]")).to_have_value("drop")  # kept
        expect(page.locator("input[name=defaultCountry]")).to_have_value("ES")
        no_sideways_scroll(page)
        shoot(page, f"preview-3-with-country-{width}")

        page.click("#import-button")
        expect(page.locator("#import-button")).to_have_count(0)
        page.wait_for_url(re.compile(re.escape(stack.api_url) + r"/ui/imports/imp_\w+$"))
        expect(page.locator("#import-status")).to_have_attribute(
            "data-status", "COMPLETED_WITH_ERRORS", timeout=120_000
        )
        expect(page.locator("#count-created")).to_have_text("2")
        expect(page.locator("#count-updated")).to_have_text("1")
        expect(page.locator("#count-failed")).to_have_text("1")
        shoot(page, f"preview-4-imported-{width}")
    finally:
        page.context.close()


UNICODE_TEXT = codecs.BOM_UTF16_LE + (
    "Name\tPhone\tCity\r\nZoë Ångström\t+46701234567\tMalmö\r\n"
).encode("utf-16-le")
FILES = {
    "cp1252": ("excel.csv", "José Muñoz;+34612345678;5 €\n".encode("cp1252"), "José Muñoz",
               "Read as Windows-1252 (Western European, Latin-1) (detected)."),
    "latin1": ("latin1.csv", "Jürgen Groß;+4915112345678;Köln\n".encode("latin-1"), "Jürgen Groß",
               "Read as Windows-1252 (Western European, Latin-1) (detected)."),
    "utf16-tabs": ("unicode.txt", UNICODE_TEXT, "Zoë Ångström", "Read as UTF-16 (detected)."),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(FILES))
def test_files_as_people_have_them(
    stack: Stack, browser: Browser, tmp_path: Path, case: str
) -> None:
    name, rows, first_name, read_as = FILES[case]
    data = rows if case == "utf16-tabs" else b"name;phone;city\n" + rows
    email, _org = new_user(stack)
    path = tmp_path / name
    path.write_bytes(data)
    page = signed_in_page(browser, stack, email, 1280)
    try:
        preview(page, stack, path)
        expect(page.locator("#read-as")).to_have_text(
            f"{read_as} If names look wrong, pick the file's encoding below."
        )
        expect(page.locator("#columns-table tbody td").first).to_have_text(first_name)
        expect_counts(page, create=1, update=0, skip=0, fail=0)
        expect(page.locator("#import-button")).to_have_text("Import 1 contact")
        shoot(page, f"preview-file-{case}")
    finally:
        page.context.close()


def test_an_unclosed_quote_is_refused_with_its_line(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    email, _org = new_user(stack)
    path = tmp_path / "quote.csv"
    path.write_bytes(b'name,phone\nAna,+34612345678\n"Ben,+34612345679\nCid,+34612345670\n')
    page = signed_in_page(browser, stack, email, 1280)
    try:
        preview(page, stack, path)
        expect(page.locator("#preview-error")).to_have_text(
            "quote.csv, line 3: a quoted field starts on this line and is never closed; add the "
            'closing quote (") or remove the opening one.'
        )
        expect(page.locator("#import-button")).to_have_count(0)
        shoot(page, "preview-file-unclosed-quote")
    finally:
        page.context.close()
