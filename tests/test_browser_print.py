"""Issue 17.1 and 17.2 on paper, in a real browser: the binder copy of the
topic page and the wallet card, printed by Chromium to PDF and read back with
poppler's pdftotext; and nothing typed on the card ever leaves the browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import skip_or_fail
from playwright.sync_api import Page
from site_pages import CONTENT
from site_pages import WALLET_CARD_PATHS

pytestmark = pytest.mark.browser

TOPIC_PATHS = {"en": "/en/immunotherapy", "es": "/es/inmunoterapia"}
MAX_BINDER_SHEETS = 8
# CSS px per mm (96 px per inch).
PX_PER_MM = 96 / 25.4
CARD_MM = (85.6, 54.0)
# Typed on the card in the tests: none of it may leave the browser.
TYPED = {
    "#card-name": "Eleanor Quetzal Price",
    "#card-medicines": "Pembrolizumab Zyx-4417",
    "#card-start-date": "3/3/2026",
    "#card-last-dose": "11/20/2026",
    "#card-oncologist": "Dr Ximena Oduya",
    "#card-cancer-type": "Melanoma Qx",
    "#card-team-phone": "559 555 0199 Qx",
    "#card-after-hours": "559 555 0188 Qx",
}


def printed(page: Page, path: Path) -> tuple[str, int]:
    """Print ``page`` to a Letter-size PDF: its text (pdftotext) and sheets."""
    if not shutil.which("pdftotext"):
        skip_or_fail("pdftotext is missing: apt-get install poppler-utils")
    page.pdf(path=str(path), format="Letter")
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    info = subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return text, int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def squashed(text: str) -> str:
    """Without spaces, line breaks and hyphens: an address or sentence wrapped
    on paper reads the same (pdftotext joins "about-" and "cancer" at a line
    end as "aboutcancer")."""
    return "".join(text.split()).replace("-", "")


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_binder_copy_names_the_clinic_the_page_and_its_date(
    page, live_app, tmp_path, lang
):
    page.goto(TOPIC_PATHS[lang])
    updated = page.locator(".page-dates time").first.inner_text()
    text, sheets = printed(page, tmp_path / "topic.pdf")

    first_line = text.strip().splitlines()[0]
    assert first_line == CONTENT.site.name
    flat = squashed(text)
    topic = CONTENT.pages[CONTENT.site.home_page].text[lang]
    assert squashed(topic.title) in flat
    for section in topic.sections:
        assert squashed(section.heading) in flat, section.heading
    for source in topic.sources:
        assert squashed(f"({source.url})") in flat, source.url
    # At the end: which page this is, and how current.
    address = live_app.config["SITE_URL"] + TOPIC_PATHS[lang]
    colophon = text[text.rindex(CONTENT.site.name) :]
    assert squashed(address) in squashed(colophon)
    assert squashed(updated) in squashed(colophon)
    # What only works on screen stays off paper.
    for screen_only in (
        "Español",
        "English",
        "Request an Appointment",
        "Solicitar una cita",
        "Print this page",
        "Imprimir esta página",
        "On this page",
        "En esta página",
        "Questions about immunotherapy?",
        "¿Tiene preguntas sobre la inmunoterapia?",
    ):
        assert screen_only not in text, screen_only
    if lang == "en":
        assert sheets <= MAX_BINDER_SHEETS


def test_print_this_page_shows_and_prints_only_with_javascript(new_page):
    page = new_page()
    page.goto(TOPIC_PATHS["en"])
    page.evaluate("window.print = () => { window.printed = true; }")
    button = page.get_by_role("button", name="Print this page")
    button.click()
    assert page.evaluate("window.printed") is True

    without_js = new_page(java_script_enabled=False)
    without_js.goto(TOPIC_PATHS["en"])
    assert without_js.get_by_role("button", name="Print this page").is_hidden()
    assert without_js.get_by_text("Print this page").count() == 1  # in the HTML


def card_box(page: Page, selector: str) -> dict:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_wallet_card_prints_at_credit_card_size(page, tmp_path, lang):
    page.goto(WALLET_CARD_PATHS[lang])
    page.emulate_media(media="print")
    width, height = (mm * PX_PER_MM for mm in CARD_MM)
    front, back = card_box(page, ".card-front"), card_box(page, ".card-back")
    for face in (front, back):
        assert face["width"] == pytest.approx(width, abs=0.5)
        assert face["height"] == pytest.approx(height, abs=0.5)
    # Side by side: cut out as one, folded in the middle.
    assert back["x"] == pytest.approx(front["x"] + width, abs=0.5)
    assert back["y"] == pytest.approx(front["y"], abs=0.5)
    # Nothing is cut off: every word fits inside its face.
    assert page.evaluate(
        """() => [...document.querySelectorAll('.card-face')].every(
             (face) => face.scrollHeight <= face.clientHeight + 1)"""
    )
    # A cutting mark at each corner of the card.
    sheet = card_box(page, ".card-sheet")
    corners = page.evaluate(
        """() => [...document.querySelectorAll('.crop')].map((mark) => {
             const box = mark.getBoundingClientRect();
             return [box.x, box.y];
           })"""
    )
    expected = [
        (sheet["x"] + dx, sheet["y"] + dy)
        for dy in (0, sheet["height"])
        for dx in (0, sheet["width"])
    ]
    assert sorted(corners, key=lambda c: (c[1], c[0])) == [
        pytest.approx(list(corner), abs=0.5) for corner in expected
    ]

    text, sheets = printed(page, tmp_path / "card.pdf")
    assert sheets == 1
    card = CONTENT.wallet_card.text[lang].card
    flat = squashed(text)
    for words in (card.heading, card.for_staff, card.emergency, *card.signs):
        assert squashed(words) in flat, words
    # The 911 line is the first thing on the card, before whose card it is.
    intro_end = squashed(CONTENT.wallet_card.text[lang].intro[-1])
    on_card = flat[flat.index(intro_end) + len(intro_end) :]
    assert on_card.startswith(squashed(card.emergency)), on_card[:80]
    # A patient who has finished treatment still reads why to carry it.
    assert squashed(MONTHS_AFTER[lang]) in flat
    for label in card.fields.model_dump().values():
        assert squashed(label) in flat, label
    assert "Print this page" not in text and "Imprimir esta página" not in text


MONTHS_AFTER = {
    "en": "Side effects can start months after treatment ends.",
    "es": "Los efectos secundarios pueden empezar meses después de terminar "
    "el tratamiento.",
}
# 8 pt in CSS px; a writing line tall and long enough for a phone number
# written by hand.
MIN_FONT_PX = 8 * 96 / 72
MIN_LINE_MM = {"height": 5.5, "width": 25.0, "phone width": 40.0}
PHONE_LINES = ("card-team-phone", "card-after-hours")
_CARD_TEXT_SIZES_JS = """() => {
  const sizes = [];
  for (const el of document.querySelectorAll('.card-sheet *')) {
    const own = [...el.childNodes].some(
      (n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const pseudo = getComputedStyle(el, '::before').content;
    if (own || el.matches('input') || !['none', 'normal', '""'].includes(pseudo)) {
      const px = parseFloat(getComputedStyle(el).fontSize);
      sizes.push([el.className || el.tagName, px]);
    }
  }
  return sizes;
}"""


@pytest.mark.parametrize("lang", ["en", "es"])
def test_no_card_text_is_under_8_pt_and_its_lines_take_handwriting(page, lang):
    page.goto(WALLET_CARD_PATHS[lang])
    page.emulate_media(media="print")
    sizes = page.evaluate(_CARD_TEXT_SIZES_JS)
    assert len(sizes) > 10
    small = [(name, px) for name, px in sizes if px < MIN_FONT_PX - 0.01]
    assert not small, small
    lines = page.evaluate(
        """() => [...document.querySelectorAll('.card-input')].map((line) => {
             const box = line.getBoundingClientRect();
             return [line.id, box.height, box.width];
           })"""
    )
    assert len(lines) == 8
    least = {k: mm * PX_PER_MM for k, mm in MIN_LINE_MM.items()}
    short = [
        line
        for line in lines
        if line[1] < least["height"] - 0.5
        or line[2] < least["phone width" if line[0] in PHONE_LINES else "width"]
    ]
    assert not short, short


def test_what_is_typed_on_the_card_prints_and_never_leaves_the_browser(
    new_page, tmp_path
):
    page = new_page()
    page.goto(WALLET_CARD_PATHS["en"])
    page.wait_for_load_state("networkidle")
    sent = []
    page.context.on("request", lambda request: sent.append(request))
    for selector, words in TYPED.items():
        page.locator(selector).press_sequentially(words)
        page.locator(selector).press("Enter")
    page.emulate_media(media="print")
    text, _ = printed(page, tmp_path / "filled.pdf")
    page.emulate_media(media="screen")
    page.evaluate("window.print = () => { window.printed = true; }")
    page.get_by_role("button", name="Print this page").click()
    assert page.evaluate("window.printed") is True

    for words in TYPED.values():
        assert squashed(words) in squashed(text), words
    # Typing, pressing Enter and printing asked the network for nothing.
    assert [(r.method, r.url, r.post_data) for r in sent] == []
    # Nor is anything kept: no storage, no cookie, an empty card next time.
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    cookies = " ".join(c["value"] for c in page.context.cookies())
    assert "Quetzal" not in cookies
    again = page.context.new_page()
    again.goto(WALLET_CARD_PATHS["en"])
    for selector in TYPED:
        assert again.locator(selector).input_value() == ""


def test_without_javascript_the_blank_card_prints(new_page, tmp_path):
    page = new_page(java_script_enabled=False)
    page.goto(WALLET_CARD_PATHS["en"])
    text, sheets = printed(page, tmp_path / "blank.pdf")
    assert sheets == 1
    card = CONTENT.wallet_card.en.card
    assert squashed(card.heading) in squashed(text)
    assert squashed(card.fields.after_hours) in squashed(text)
    assert "Print this page" not in text


def sheet_texts(path: Path) -> list[str]:
    """The text of each printed sheet of a PDF, first to last."""
    info = subprocess.run(
        ["pdfinfo", str(path)], capture_output=True, text=True, check=True
    ).stdout
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return [
        subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, count + 1)
    ]


@pytest.mark.parametrize("lang", ["en", "es"])
# Space above the boxes moves them down the sheet, so some start near its foot
# (the clinic's name and phone in the masthead, a longer lead, a larger font).
@pytest.mark.parametrize("space_above_mm", [0, 60, 120, 180])
def test_no_emergency_box_is_split_across_printed_sheets(
    page, tmp_path, lang, space_above_mm
):
    page.goto(TOPIC_PATHS[lang])
    page.locator(".alert").first.evaluate(
        "(box, mm) => box.before(Object.assign(document.createElement('div'),"
        " {style: `height: ${mm}mm`}))",
        space_above_mm,
    )
    boxes = page.locator(".alert").evaluate_all(
        "boxes => boxes.map(box => [...box.querySelectorAll('.alert-title, li')]"
        ".map(line => line.innerText))"
    )
    assert len(boxes) >= 2  # the 911 box and the call-now box
    printed(page, tmp_path / "topic.pdf")
    sheets = [squashed(text) for text in sheet_texts(tmp_path / "topic.pdf")]
    for lines in boxes:
        on = {i for i, sheet in enumerate(sheets) if squashed(lines[0]) in sheet}
        assert len(on) == 1, lines[0]
        sheet = sheets[on.pop()]
        for line in lines[1:]:
            assert squashed(line) in sheet, f"{lines[0]!r} split before {line!r}"
