"""The Nu HTML Checker finds no error in any page, as the browser received it."""

from __future__ import annotations

import pytest
from html_checker import check_html
from site_pages import SITE_PAGES

pytestmark = pytest.mark.browser


def test_every_page_is_valid_html(vnu_jar, new_page, tmp_path):
    documents = {}
    for site_page in SITE_PAGES:
        # A fresh context each, so one page's state (cookies) cannot leak.
        response = site_page.reach(new_page(), site_page)
        assert response.status == site_page.status, site_page.id
        documents[site_page.id] = response.body()
    errors = {
        name: found
        for name, found in check_html(vnu_jar, documents, tmp_path).items()
        if found
    }
    assert not errors, "The Nu HTML Checker found:\n" + "\n".join(
        f"{name}:\n    " + "\n    ".join(found) for name, found in errors.items()
    )
