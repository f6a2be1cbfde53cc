"""Reverting an import from the Contacts UI, over HTTP on the session stack: the offer on a
finished import's page, the revert's progress and result (contacts put back, the contact a later
import changed kept and linked), and the import's phone numbers by type and region."""

from __future__ import annotations

import re
from contextlib import closing

import pytest

from tests.stack import Stack
from tests.ui_support import new_user, page_when, signed_in

pytestmark = pytest.mark.integration

ANA, BO = "+34612345678", "+442079460000"  # a Spanish mobile, a London fixed line


def test_revert_from_the_import_page(stack: Stack) -> None:
    email, org = new_user(stack)
    key = stack.new_org_key(org)
    first = stack.post_import({"contacts": [{"name": "Ana", "phoneNumber": ANA},
                                            {"name": "Bo", "phoneNumber": BO}]}, key)  # fmt: skip
    first_id = first.json()["importId"]
    assert stack.wait_for_terminal(first_id, key)["status"] == "COMPLETED"
    later = stack.post_import({"contacts": [{"name": "Bo Later", "phoneNumber": BO}]}, key)
    later_id = later.json()["importId"]
    stack.wait_for_terminal(later_id, key)
    client, token = signed_in(stack, email)
    with closing(client):
        path = f"/ui/imports/{first_id}"
        page = client.get(path).text
        assert 'id="revert-offer"' in page
        types = dict(re.findall(r'data-type="(\w+)">[^<]*<strong>(\d+)</strong>', page))
        regions = dict(re.findall(r'data-region="(\w+)">[^<]*<strong>(\d+)</strong>', page))
        assert types == {"mobile": "1", "fixed_line": "1"}
        assert regions == {"ES": "1", "GB": "1"}
        response = client.post(f"{path}/revert", data={"_csrf_token": token})
        assert response.status_code == 303
        assert response.headers["location"] == path
        page = page_when(client, path, 'data-revert-status="REVERTED"')
    assert "1 contact put back as before this import" in page
    assert "1 contact kept because a later import changed it" in page
    assert re.search(rf"<code>\{BO}</code>.*a later import changed it.*{later_id}", page, re.S)
    assert 'id="revert-offer"' not in page
    assert 'data-status="REVERTED"' in page
    stored = stack.query(f"SELECT name, phone_number FROM contacts WHERE org_id = '{org}'")
    assert stored == [{"name": "Bo Later", "phone_number": BO}]
