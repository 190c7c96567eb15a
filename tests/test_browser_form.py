"""The appointment form in a real browser, in both languages: sent with the
keyboard alone (and the email found at the SMTP server), sent empty (the
error summary takes focus and leads to each field), sent after the session
expired, and used at 200% zoom and on a phone."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlparse

import pytest
from helpers import VALID_ANSWERS
from helpers import spanish_catalog
from helpers import wait_until
from page_checks import PHONE
from page_checks import ZOOM_200
from page_checks import horizontal_overflow
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import expect
from site_pages import FORM_PATHS
from site_pages import RECEIVED_PATHS
from site_pages import SITE_PAGES
from site_pages import fill_in
from site_pages import send_form
from smtp_sink import Received
from smtp_sink import SMTPServer

from app.appointments.views import NOTICES
from app.content import LANGUAGES

pytestmark = pytest.mark.browser

REFERENCE = re.compile(r"[A-Z0-9]{3}-[A-Z0-9]{3}")
SUBMIT = "form.appointment-form [type=submit]"


def assert_in_language(lang: str, texts: list[str]) -> None:
    """Each text is one of our interface strings, in ``lang``: the English
    original on an English page, its Spanish translation on a Spanish page."""
    catalog = {
        message.id: message.string
        for message in spanish_catalog()
        if isinstance(message.id, str) and message.id and message.string
    }
    known = set(catalog) if lang == "en" else set(catalog.values()) - set(catalog)
    wrong = [text for text in texts if text not in known]
    assert not wrong, f"not in the page's language ({lang}): {wrong}"


def received_heading(live_app, lang: str) -> str:
    """The received page's h1 in ``lang``."""
    page = next(p for p in SITE_PAGES if p.name == "received" and p.lang == lang)
    return page.heading(live_app)


def tab_to(page: Page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element at ``selector`` has focus, as a keyboard
    user moves down a page they do not know yet."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{limit} presses of Tab never reached {selector}")


def press(page: Page, key: str, then_focused: str) -> None:
    """Press ``key`` and check where the focus went."""
    page.keyboard.press(key)
    expect(page.locator(then_focused)).to_be_focused()


def question(page: Page, control_id: str) -> Locator:
    """What a field asks: a radio group's legend, or the control's label."""
    return page.locator(
        f"fieldset:has(#{control_id}) > legend, label[for='{control_id}']"
    ).first


def mail_about(server: SMTPServer, reference: str) -> Received:
    """The one email whose subject carries ``reference`` (delivery is async)."""
    found: list[Received] = []

    def arrived() -> bool:
        found[:] = [m for m in server.received if reference in m.message["Subject"]]
        return bool(found)

    assert wait_until(arrived), f"no email with {reference} in its subject"
    [mail] = found
    return mail


# First and last name per page language; the last name gets a unique suffix
# so each test finds its own email among the session's.
NAMES = {"en": ("Maria", "Keyboard"), "es": ("José", "Núñez")}
# The page's preselected language for the call, as the email names it.
CALL_LANGUAGE = {"en": "English", "es": "Spanish"}


MARCH = {"en": "March", "es": "marzo"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_form_can_be_sent_with_the_keyboard_alone(
    page, live_app, live_smtp_server, lang
):
    first, last = NAMES[lang]
    last = f"{last}-{uuid.uuid4().hex[:8]}"
    page.goto(FORM_PATHS[lang])
    keyboard = page.keyboard

    tab_to(page, "#first_name")
    keyboard.type(first[::-1])  # a slip, put right below
    press(page, "Tab", "#last_name")
    keyboard.type(last)
    # Back to the first name: Tab selects what is there, typing replaces it.
    press(page, "Shift+Tab", "#first_name")
    keyboard.type(first)
    press(page, "Tab", "#last_name")

    # In the order the page's language writes a date; the month by its name.
    typed = {"month": MARCH[lang], "day": "27", "year": "1958"}
    for part in ("month", "day", "year") if lang == "en" else ("day", "month", "year"):
        press(page, "Tab", f"#date_of_birth-{part}")
        keyboard.type(typed[part])

    press(page, "Tab", "#requester-0")  # Me
    keyboard.press("Space")
    # Choosing "a family member" reveals who is asking, right below it.
    expect(page.locator("#requester_name")).to_be_hidden()
    press(page, "ArrowDown", "#requester-1")
    expect(page.locator("#requester-1")).to_have_attribute(
        "aria-controls", "requester-1-conditional"
    )
    press(page, "Tab", "#requester_name")
    keyboard.type("Ana Ruiz")
    press(page, "Tab", "#relationship")
    keyboard.type("Daughter")
    press(page, "Tab", "#patient_status-0")
    press(page, "ArrowDown", "#patient_status-1")  # Returning patient
    press(page, "Tab", "#reason-0")
    press(page, "ArrowDown", "#reason-1")  # A second opinion
    press(page, "Tab", "#referring_doctor")
    keyboard.type("Dr. Ana Ruiz")

    press(page, "Tab", "#phone")
    keyboard.type("559 555 0123")
    press(page, "Tab", "#email")  # optional: left empty
    press(page, "Tab", "#contact_method-0")  # Phone call
    keyboard.press("Space")
    press(page, "Tab", "#best_time-0")
    press(page, "ArrowDown", "#best_time-1")
    press(page, "ArrowDown", "#best_time-2")  # Any time
    # The page's language is already chosen, so Tab lands on it.
    press(page, "Tab", f"#language-{LANGUAGES.index(lang)}")
    # "Which language?" only follows "Another language": Tab skips it.
    # No interpreter answer yet: Tab lands on the first choice.
    press(page, "Tab", "#interpreter-0")
    press(page, "ArrowDown", "#interpreter-1")  # Yes, for the phone call

    press(page, "Tab", "#message")
    keyboard.type("Mornings are best.\nThank you.")
    press(page, "Tab", "#consent")
    keyboard.press("Space")
    press(page, "Tab", SUBMIT)
    with page.expect_navigation():
        keyboard.press("Enter")

    assert urlparse(page.url).path == RECEIVED_PATHS[lang]
    assert page.locator("h1").inner_text() == received_heading(live_app, lang)
    reference = page.locator(".reference").inner_text()
    assert REFERENCE.fullmatch(reference), reference

    mail = mail_about(live_smtp_server, reference)
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    text = text.replace("\r\n", "\n")
    for line in (
        f"Patient name: {first} {last}",
        "Phone: (559) 555-0123",
        "Preferred contact: Phone call",
        "Best time to reach: Any time",
        f"Language for the call: {CALL_LANGUAGE[lang]}",
        "Date of birth: March 27, 1958",
        "PERSON TO CALL\nName: Ana Ruiz\nRelationship to the patient: Daughter",
        "New or returning: Returning patient",
        "Reason: A second opinion",
        "Referring doctor: Dr. Ana Ruiz",
        "> Mornings are best.\n> Thank you.",
    ):
        assert line in text, line
    assert re.search(r"\nInterpreter: Yes, (Spanish, )?for the call\n", text), text


_INVALID_CONTROLS_JS = """
() => [...document.querySelectorAll('form [aria-invalid="true"]')].map((el) => {
  // A radio group is described as a whole (GOV.UK): on its fieldset.
  const owner = el.type === 'radio' ? el.closest('fieldset') : el;
  const ids = (owner.getAttribute('aria-describedby') || '').split(/\\s+/)
    .filter(Boolean);
  const text = (id) => document.getElementById(id)?.textContent
    .trim().replace(/\\s+/g, ' ') ?? `no element #${id}`;
  return {name: el.name, descriptions: ids.map(text)};
})
"""


@pytest.mark.parametrize("lang", LANGUAGES)
def test_an_empty_form_sends_focus_to_a_summary_that_leads_to_each_field(page, lang):
    page.goto(FORM_PATHS[lang])
    tab_to(page, SUBMIT)
    with page.expect_navigation() as navigation:
        page.keyboard.press("Enter")
    assert navigation.value.status == 422

    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    links = summary.get_by_role("link").all()
    targets = [link.get_attribute("href") for link in links]
    assert len(targets) >= 2 and all(t.startswith("#") for t in targets), targets
    messages = [link.inner_text().strip() for link in links]
    assert_in_language(lang, [summary.locator("h2").inner_text(), *messages])
    # Listed in the order the page asks the questions (GOV.UK).
    page_order = page.evaluate(
        "() => [...document.querySelectorAll('form [id]')].map((el) => '#' + el.id)"
    )
    assert targets == sorted(targets, key=page_order.index)

    def assert_focus_moved_to(target: str) -> None:
        expect(page.locator(target)).to_be_focused()
        expect(question(page, target[1:])).to_be_in_viewport()

    # From the focused summary, Tab reaches its first link and Enter follows it.
    page.keyboard.press("Tab")
    expect(links[0]).to_be_focused()
    page.keyboard.press("Enter")
    assert_focus_moved_to(targets[0])
    for link, target in zip(links, targets, strict=True):
        link.focus()
        page.keyboard.press("Enter")
        assert_focus_moved_to(target)
    for link, target in zip(links, targets, strict=True):
        link.click()
        assert_focus_moved_to(target)

    # Each invalid control says so, and is described by its own message.
    expected = {
        page.locator(target).get_attribute("name"): message
        for target, message in zip(targets, messages, strict=True)
    }
    invalid = page.evaluate(_INVALID_CONTROLS_JS)
    assert {control["name"] for control in invalid} == set(expected)
    for control in invalid:
        message = expected[control["name"]]
        assert any(d.endswith(message) for d in control["descriptions"]), (
            control,
            message,
        )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_form_sent_after_the_session_expired_keeps_the_answers(page, live_app, lang):
    typed = {"first_name": "Lucía", "message": "Por la mañana, por favor."}
    page.goto(FORM_PATHS[lang])
    fill_in(page, typed)
    # The session (and the CSRF token in it) ends while the page is open.
    cookie = live_app.config["SESSION_COOKIE_NAME"]
    assert cookie in {c["name"] for c in page.context.cookies()}
    page.context.clear_cookies(name=cookie)

    assert send_form(page).status == 400
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    with live_app.test_request_context(FORM_PATHS[lang]):
        notice = str(NOTICES["expired"])
    expect(summary).to_contain_text(notice)
    for name, value in typed.items():
        expect(page.locator(f'[name="{name}"]')).to_have_value(value)

    # The page came back with a fresh token: answering the rest and sending works.
    fill_in(page, {k: v for k, v in VALID_ANSWERS.items() if k not in typed})
    assert send_form(page).status == 200
    assert urlparse(page.url).path == RECEIVED_PATHS[lang]


_CUT_OFF_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const selector = 'main input:not([type=hidden]), main textarea, main label, ' +
    'main legend, main button, main .error-message, main .error-summary a, main h1';
  return [...document.querySelectorAll(selector)]
    .filter((el) => el.checkVisibility())
    .map((el) => [el, el.getBoundingClientRect()])
    .filter(([, box]) => box.left < 0 || box.right > width + 0.5)
    .map(([el, box]) => `<${el.tagName.toLowerCase()} ${el.id || el.textContent.trim()
      .slice(0, 30)}>: ${box.left.toFixed(0)}..${box.right.toFixed(0)} of ${width}`);
}
"""


def cut_off(page: Page) -> list[str]:
    """Each visible question, control or message that sticks out sideways."""
    return page.evaluate(_CUT_OFF_JS)


@pytest.mark.parametrize(
    ("viewport", "options"),
    [(PHONE, {"is_mobile": True, "has_touch": True}), (ZOOM_200, {})],
    ids=["phone-360x740", "zoom-200"],
)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_form_works_at_200_percent_zoom_and_on_a_phone(
    new_page, live_app, lang, viewport, options
):
    page = new_page(*viewport, device_scale_factor=2, **options)
    page.goto(FORM_PATHS[lang])
    assert cut_off(page) == []

    assert send_form(page).status == 422
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_be_in_viewport()
    assert horizontal_overflow(page) <= 0
    assert cut_off(page) == []
    first_link = summary.get_by_role("link").first
    target = first_link.get_attribute("href")
    first_link.click()
    expect(page.locator(target)).to_be_focused()
    expect(question(page, target[1:])).to_be_in_viewport()

    fill_in(page, VALID_ANSWERS)
    assert send_form(page).status == 200
    assert urlparse(page.url).path == RECEIVED_PATHS[lang]
    expect(page.locator("h1")).to_have_text(received_heading(live_app, lang))
    expect(page.locator(".reference")).to_be_in_viewport()
    assert horizontal_overflow(page) <= 0


def follow_up_visibility(page: Page) -> dict[str, bool]:
    """Which follow-up questions a person can see right now."""
    names = ["requester_name", "relationship", "office_name", "other_language"]
    return {name: page.locator(f"#{name}").is_visible() for name in names}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_follow_up_questions_appear_only_under_the_choice_they_follow(page, lang):
    page.goto(FORM_PATHS[lang])
    assert not any(follow_up_visibility(page).values())
    page.locator("#requester-2").check()  # a doctor's office
    assert follow_up_visibility(page) == {
        "requester_name": False,
        "relationship": False,
        "office_name": True,
        "other_language": False,
    }
    page.locator("#requester-1").check()  # a family member
    page.locator("#language-2").check()  # another language
    assert follow_up_visibility(page) == {
        "requester_name": True,
        "relationship": True,
        "office_name": False,
        "other_language": True,
    }
    # Each choice with follow-ups names the area it reveals.
    for choice in ("requester-1", "requester-2", "language-2"):
        controlled = page.locator(f"#{choice}").get_attribute("aria-controls")
        assert controlled == f"{choice}-conditional"
        assert page.locator(f"#{controlled}").count() == 1
    page.locator("#requester-0").check()  # me
    assert follow_up_visibility(page)["requester_name"] is False

    # A follow-up left empty is an error that leads to it, shown open.
    fill_in(page, {k: v for k, v in VALID_ANSWERS.items() if k != "requester"})
    page.locator("#requester-1").check()
    page.locator("#language-2").check()
    assert send_form(page).status == 422
    summary = page.locator("#error-summary")
    targets = [link.get_attribute("href") for link in summary.get_by_role("link").all()]
    assert targets == ["#requester_name", "#relationship", "#other_language"]
    assert follow_up_visibility(page)["requester_name"] is True
    summary.get_by_role("link").first.click()
    expect(page.locator("#requester_name")).to_be_focused()


def test_without_javascript_every_follow_up_shows_and_the_form_still_works(
    new_page, live_smtp_server
):
    page = new_page(java_script_enabled=False)
    page.goto(FORM_PATHS["en"])
    assert all(follow_up_visibility(page).values())
    last = f"NoScript-{uuid.uuid4().hex[:8]}"
    fill_in(page, {**VALID_ANSWERS, "last_name": last, "requester": "office"})
    page.locator("#office_name").fill("Valley Family Medicine")
    # Left over in a question that does not apply: ignored.
    page.locator("#other_language").fill("Klingon")
    assert send_form(page).status == 200
    reference = page.locator(".reference").inner_text()
    mail = mail_about(live_smtp_server, reference)
    text = mail.message.get_body(preferencelist=("plain",)).get_content()
    assert "Name: Valley Family Medicine\r\nRelationship to the patient: the" in text
    assert "Klingon" not in text


def test_date_of_birth_errors_mark_only_the_wrong_part(page):
    page.goto(FORM_PATHS["en"])
    fill_in(page, VALID_ANSWERS)
    page.locator("#date_of_birth-month").select_option("3")
    page.locator("#date_of_birth-year").fill("1958")
    assert send_form(page).status == 422
    link = page.locator("#error-summary").get_by_role("link")
    expect(link).to_have_text("The date of birth must include a day.")
    link.click()
    expect(page.locator("#date_of_birth-day")).to_be_focused()
    invalid = page.locator('.date-input [aria-invalid="true"]')
    expect(invalid).to_have_count(1)
    expect(invalid).to_have_id("date_of_birth-day")
    # The group's question, hint and error are read with the group.
    group = page.get_by_role("group", name=re.compile("date of birth"))
    expect(group).to_have_attribute(
        "aria-describedby", "date_of_birth-hint date_of_birth-error"
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_reference_stays_on_one_line_on_a_phone(new_page, lang):
    page = new_page(*PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page.goto(FORM_PATHS[lang])
    fill_in(page, VALID_ANSWERS)
    assert send_form(page).status == 200
    reference = page.locator(".reference")
    assert REFERENCE.fullmatch(reference.inner_text())
    # An inline element broken across lines has one box per line.
    lines = reference.evaluate("(el) => el.getClientRects().length")
    assert lines == 1
    assert horizontal_overflow(page) <= 0


@pytest.mark.parametrize(
    ("lang", "month"),
    [("en", "May"), ("es", "mayo")],
)
def test_a_day_first_date_cannot_reach_the_clinic_as_another_date(
    page, live_smtp_server, lang, month
):
    """5 3 1962: the patient picks the month by its name, so the month the
    clinic gets is the one the patient read (issue 21.2)."""
    last = f"Fecha-{uuid.uuid4().hex[:8]}"
    page.goto(FORM_PATHS[lang])
    fill_in(page, {**VALID_ANSWERS, "last_name": last})
    page.locator("#date_of_birth-day").fill("3")
    page.locator("#date_of_birth-month").select_option(label=month)
    page.locator("#date_of_birth-year").fill("1962")
    # What the patient sees before sending: the month in words, in their language.
    chosen = page.locator("#date_of_birth-month option:checked").inner_text()
    assert chosen == month
    assert send_form(page).status == 200
    reference = page.locator(".reference").inner_text()
    text = mail_about(live_smtp_server, reference).message.get_body(("plain",))
    assert "Date of birth: May 3, 1962" in text.get_content()


@pytest.mark.parametrize("javascript", [True, False])
def test_switching_language_keeps_every_answer_and_shows_no_error(new_page, javascript):
    """Issue 21.1: typed on the English form, one answer wrong and sent, then
    "Español": the Spanish form has every answer, and no error yet."""
    page = new_page(java_script_enabled=javascript)
    page.goto(FORM_PATHS["en"])
    typed = {
        **VALID_ANSWERS,
        "first_name": "José Luis",
        "requester": "family",
        "requester_name": "María Hernández",
        "relationship": "hija",
        "phone": "not a number",  # the one wrong answer
        "message": "Llamar por la tarde.",
    }
    fill_in(page, typed)
    page.locator("#date_of_birth-day").fill("3")
    page.locator("#date_of_birth-month").select_option("5")
    page.locator("#date_of_birth-year").fill("1962")
    assert send_form(page).status == 422
    expect(page.locator("#error-summary")).to_be_visible()

    with page.expect_navigation():
        page.locator(".lang-toggle").click()
    assert urlparse(page.url).path == FORM_PATHS["es"]
    assert page.locator("html").get_attribute("lang") == "es"
    expect(page.locator("#error-summary")).to_have_count(0)
    expect(page.locator('[aria-invalid="true"]')).to_have_count(0)
    for name in ("first_name", "requester_name", "relationship", "phone", "message"):
        expect(page.locator(f'[name="{name}"]')).to_have_value(typed[name])
    expect(page.locator("#requester-1")).to_be_checked()
    expect(page.locator("#date_of_birth-month option:checked")).to_have_text("mayo")
    expect(page.locator("#date_of_birth-day")).to_have_value("3")
    # Corrected and sent from the Spanish form: one request, as typed.
    page.locator('[name="phone"]').fill("559 555 0123")
    assert send_form(page).status == 200
    assert urlparse(page.url).path == RECEIVED_PATHS["es"]
