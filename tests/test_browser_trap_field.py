"""The form's trap field in Chromium (issue 15.2): a person never meets it,
not even when the stylesheet fails to load: it is not shown, never takes
focus, and is not in what a screen reader reads."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from site_pages import FORM_PATHS

pytestmark = pytest.mark.browser

TRAP = '[name="leave_blank"]'


@pytest.mark.parametrize("stylesheet", ["loaded", "blocked"])
def test_a_person_cannot_see_focus_or_hear_the_trap_field(page: Page, stylesheet):
    if stylesheet == "blocked":
        page.route("**/*.css", lambda route: route.abort())
    page.goto(FORM_PATHS["en"])
    trap = page.locator(TRAP)
    assert trap.count() == 1
    assert not trap.is_visible()
    # Tab from the top to the send button and beyond: never on the trap.
    focused = set()
    for _ in range(120):
        page.keyboard.press("Tab")
        focused.add(page.evaluate("document.activeElement.name || ''"))
    assert "first_name" in focused and "consent" in focused
    assert "leave_blank" not in focused
    # A script cannot focus it either (inert), as autofill would need to.
    trap.evaluate("(el) => el.focus()")
    assert page.evaluate("document.activeElement.name || ''") != "leave_blank"
    # Not in the accessibility tree a screen reader reads.
    tree = page.locator("form.appointment-form").aria_snapshot()
    assert "Leave this field empty" not in tree
