"""axe-core finds no WCAG 2.2 A/AA or best-practice violation on any page, and
text contrast of 7:1 or more (issue 17.4, AAA) in every page and state."""

from __future__ import annotations

import pytest
from page_checks import axe_violations
from page_checks import describe_violations
from site_pages import SITE_PAGES

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("site_page", SITE_PAGES, ids=lambda p: p.id)
def test_no_accessibility_violations(page, site_page):
    response = site_page.reach(page, site_page)
    assert response.status == site_page.status
    violations = axe_violations(page)
    assert not violations, "axe-core found:\n" + describe_violations(violations)
    # On the same page, so it is loaded once: every page load costs the suite.
    low_contrast = axe_violations(page, rules=["color-contrast-enhanced"])
    assert not low_contrast, "Below 7:1:\n" + describe_violations(low_contrast)
