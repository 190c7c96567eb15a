"""What a person never meets on the form, in Chromium: the trap field
(issue 15.2), not even when the stylesheet fails to load (not shown, never
focused, not in what a screen reader reads); and a loop of "open for a long
time" when the browser keeps no cookies (issue 15.7)."""

from __future__ import annotations

import pytest
from helpers import VALID_ANSWERS
from playwright.sync_api import Page
from playwright.sync_api import expect
from site_pages import FORM_PATHS
from site_pages import fill_in
from site_pages import send_form

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


def test_a_browser_that_keeps_no_cookie_is_told_so_not_sent_round_in_a_loop(
    page: Page,
):
    """Issue 15.7: the first failed send may be an ended session; the second,
    with the page the site sent back, is a browser that keeps no cookies."""
    page.goto(FORM_PATHS["en"])
    fill_in(page, VALID_ANSWERS)
    notices = []
    for _ in range(3):
        page.context.clear_cookies()
        assert send_form(page).status == 400
        notices.append(page.locator("#error-summary").inner_text())
        expect(page.locator('[name="first_name"]')).to_have_value("Maria")
    assert "open for a long time" in notices[0]
    for notice in notices[1:]:
        assert "Your browser blocks cookies" in notice
        assert "open for a long time" not in notice
