"""The Contacts UI in a real browser (Debian's headless Chromium driven by Playwright) against
the stack as `oliai up` starts it: sign in, upload a CSV with bad rows, watch it finish with
errors, download the errors CSV, sign out. Screenshots of each page: test-artifacts/ui/."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import shoot
from tests.stack import Stack
from tests.ui_support import PASSWORD, new_user

pytestmark = pytest.mark.e2e

CONTACTS = (
    "Name;Phone;Language;city\n"
    "Priya Sharma;+91 98765 43210;hi-IN;Mumbai\n"
    ";12345;en;Delhi\n"  # row 3: no name, phone without +
    "Ravi Kumar;+919123456789;en-IN;Delhi\n"
    "\n"
    "Bad Tag;+14155552671;xx-;SF\n"  # row 6 (after a blank line): malformed language
)


def test_sign_in_upload_watch_download_sign_out(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    email, _org = new_user(stack)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS, encoding="utf-8")
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(stack.api_url + "/")
        expect(page).to_have_url(stack.api_url + "/ui/login?next=/ui/imports")
        shoot(page, "01-sign-in")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", "wrong password!")
        page.click("button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(stack.api_url + "/ui/imports")
        expect(page.locator(".who")).to_have_text(email)
        shoot(page, "02-imports-empty")

        page.get_by_role("link", name="New import").first.click()
        expect(page).to_have_url(stack.api_url + "/ui/imports/new")
        page.set_input_files("input[name=file]", str(contacts))
        page.fill("input[name=audienceId]", "aud_browser")
        shoot(page, "03-new-import")
        page.click("#import-now")
        page.wait_for_url(re.compile(re.escape(stack.api_url) + r"/ui/imports/imp_\w+$"))
        import_id = page.url.rsplit("/", 1)[1]
        # The detail page refreshes itself until the import ends.
        expect(page.locator("#import-status")).to_have_attribute(
            "data-status", "COMPLETED_WITH_ERRORS", timeout=120_000
        )
        expect(page.locator("#count-total")).to_have_text("4")
        expect(page.locator("#count-created")).to_have_text("2")
        expect(page.locator("#count-failed")).to_have_text("2")
        expect(page.locator("#completed-at")).to_contain_text("UTC")
        run_url = re.compile(re.escape(stack.dagster_url) + r"/runs/[0-9a-f-]{36}$")
        expect(page.locator("#run-link")).to_have_attribute("href", run_url)
        rows = page.locator("#errors-table tbody tr")
        expect(rows).to_have_count(3)
        expect(page.locator("#error-groups")).to_contain_text(
            "1 row: phone number without country code — set a default country or add +"
        )
        shoot(page, "04-import-detail")
        run_id = page.locator("#run-link").get_attribute("href").rsplit("/", 1)[1]  # type: ignore[union-attr]
        runs = context.new_page()  # the Dagster UI's runs, filtered by the import's tag
        runs.goto(page.locator("#runs-link").get_attribute("href"))  # type: ignore[arg-type]
        expect(runs.get_by_text(run_id[:8]).first).to_be_visible(timeout=60_000)
        expect(runs.get_by_text("OliAI API").first).to_be_visible()  # "Launched by"
        shoot(runs, "04b-dagster-runs-of-the-import")
        runs.close()

        with page.expect_download() as download_info:
            page.click("#download-errors")
        download = download_info.value
        assert download.suggested_filename == f"{import_id}-errors.csv"
        saved = tmp_path / "errors.csv"
        download.save_as(saved)
        with saved.open(encoding="utf-8") as file:
            errors = list(csv.DictReader(file))
        assert [(e["row_index"], e["file_row"], e["field"]) for e in errors] == [
            ("1", "3", "name"),
            ("1", "3", "phoneNumber"),
            ("3", "6", "language"),
        ]
        assert errors[1]["value"] == "12345"

        page.goto(stack.api_url + "/ui/imports")
        row = page.locator(f"tr[data-import-id='{import_id}']")
        expect(row.locator(".badge")).to_have_attribute("data-status", "COMPLETED_WITH_ERRORS")
        expect(row).to_contain_text("contacts.csv")
        shoot(page, "05-imports-list")

        page.click("#sign-out")
        expect(page).to_have_url(stack.api_url + "/ui/login?signedOut=true")
        expect(page.locator("#signed-out")).to_have_text("You are signed out.")
        page.go_back()  # pages are no-store: Back asks again, and is sent to sign in
        expect(page).to_have_url(f"{stack.api_url}/ui/login?next=/ui/imports")
        for path in ("/ui/imports", f"/ui/imports/{import_id}", "/ui/imports/new"):
            page.goto(stack.api_url + path)
            expect(page).to_have_url(f"{stack.api_url}/ui/login?next={path}")
        shoot(page, "06-signed-out")
    finally:
        context.close()


def test_upload_problem_is_shown_on_the_form(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    email, _org = new_user(stack)
    bad = tmp_path / "no-phone.csv"
    bad.write_text("name,email\nAna,ana@example.com\n", encoding="utf-8")
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(stack.api_url + "/ui/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(stack.api_url + "/ui/imports/new")
        page.set_input_files("input[name=file]", str(bad))
        page.click("#import-now")
        expect(page.locator("#upload-error")).to_contain_text("no phoneNumber column")
        expect(page).to_have_url(stack.api_url + "/ui/imports/new")
        shoot(page, "07-upload-error")
    finally:
        context.close()


# The elements that reach past the window's right edge, to say what overflows.
_OVERFLOWING = """() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .slice(0, 5).map((e) => e.tagName + "." + e.className + "#" + e.id)"""


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width, page.evaluate(_OVERFLOWING))  # type: ignore[index]


@pytest.mark.parametrize("width", [1280, 390])
def test_pages_fit_the_screen(stack: Stack, browser: Browser, width: int) -> None:
    """Every page at a desktop's and a phone's width: nothing overflows; on a phone the lists
    are cards whose long ids are cut with the whole value on hover."""
    email, org = new_user(stack)
    key = stack.new_org_key(org)
    long_name = "Priya " + "Sharma-" * 30  # within the 256-character limit
    body = {"contacts": [{"name": long_name, "phoneNumber": "+919876543210"},
                         {"name": "Bad", "phoneNumber": "12345" * 20}]}  # fmt: skip
    import_id = stack.post_import(body, key).json()["importId"]
    stack.wait_for_terminal(import_id, key)
    context = browser.new_context(viewport={"width": width, "height": 844})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(stack.api_url + "/ui/login")
        no_sideways_scroll(page)
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(stack.api_url + "/ui/imports")
        cell = page.locator(f"tr[data-import-id='{import_id}'] a")
        expect(cell).to_have_attribute("title", import_id)
        no_sideways_scroll(page)
        shoot(page, f"list-{width}")
        cell.click()
        expect(page.locator("#import-status")).to_have_attribute(
            "data-status", "COMPLETED_WITH_ERRORS"
        )
        no_sideways_scroll(page)
        shoot(page, f"detail-{width}")
        page.goto(stack.api_url + "/ui/imports/new")
        no_sideways_scroll(page)
        shoot(page, f"new-import-{width}")
        page.goto(stack.api_url + "/ui/imports/imp_000000000000000000000000")
        expect(page.locator("#error-page")).to_have_attribute("data-status", "404")
        no_sideways_scroll(page)
        shoot(page, f"not-found-{width}")
        page.goto(stack.api_url + "/ui/imports?page=0")
        expect(page.locator("#error-page")).to_have_attribute("data-status", "400")
        expect(page.locator("#error-page h1")).to_have_text("This address is not valid")
        page.goto(stack.api_url + "/ui/imports")  # a form whose token went stale: 403, a page
        page.locator("input[name=_csrf_token]").first.evaluate("input => input.value = 'stale'")
        page.click("#sign-out")
        expect(page.locator("#error-page")).to_have_attribute("data-status", "403")
        expect(page.locator("#error-page h1")).to_have_text("The form expired")
        no_sideways_scroll(page)
        shoot(page, f"form-expired-{width}")
    finally:
        context.close()
