"""The lead and every section and subsection of every page read at the
page's goal, so a new sentence cannot quietly push a part of the page out of
reach: English at Flesch-Kincaid grade 8 or below, Spanish at Fernández-Huerta
65 or above for the page, its lead and each section (textstat 0.7.3). Each
list item counts as a sentence, as a reader takes it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import textstat

from app.content import Alert
from app.content import BulletList
from app.content import Subsection
from app.content import load_content

CONTENT = load_content("content")
PAGES = sorted(CONTENT.pages)
ENGLISH_MAX_GRADE = 8
SPANISH_MIN_PAGE = 65
SPANISH_MIN_SECTION = 65


def sentences(part: Subsection) -> Iterator[str]:
    """The part's text, one sentence-ending piece per paragraph or list item."""
    for block in part.body:
        if isinstance(block, Alert):
            yield block.title
        pieces = block.items if isinstance(block, BulletList) else [block]
        for piece in pieces:
            yield piece if piece.rstrip()[-1:] in ".?!:" else f"{piece}."


def parts(page_id: str, lang: str) -> Iterator[tuple[str, str]]:
    """(section id, text) for the lead and each section and subsection with
    text of its own."""
    text = CONTENT.pages[page_id].text[lang]
    if text.lead:
        yield "lead", " ".join(text.lead)
    for section in text.sections:
        for part in (section, *section.sections):
            yield part.id, " ".join(sentences(part))


@pytest.fixture
def spanish():
    """textstat's language is global: Spanish for one test, then back."""
    textstat.set_lang("es")
    yield
    textstat.set_lang("en_US")


def test_textstat_is_the_pinned_version():
    # The thresholds were set with this version's formulas and syllable counts.
    from importlib.metadata import version

    assert version("textstat") == "0.7.3"


@pytest.mark.parametrize("page_id", PAGES)
def test_every_english_section_is_at_grade_8_or_below(page_id):
    textstat.set_lang("en_US")
    grades = {
        part_id: textstat.flesch_kincaid_grade(text)
        for part_id, text in parts(page_id, "en")
    }
    too_hard = {k: v for k, v in grades.items() if v > ENGLISH_MAX_GRADE}
    assert not too_hard, f"above grade {ENGLISH_MAX_GRADE}: {too_hard}"


@pytest.mark.parametrize("page_id", PAGES)
def test_spanish_reads_easily_as_a_whole_and_in_every_section(spanish, page_id):
    texts = dict(parts(page_id, "es"))
    whole = textstat.fernandez_huerta(" ".join(texts.values()))
    assert whole >= SPANISH_MIN_PAGE, f"page: {whole}"
    scores = {k: textstat.fernandez_huerta(v) for k, v in texts.items()}
    too_hard = {k: v for k, v in scores.items() if v < SPANISH_MIN_SECTION}
    assert not too_hard, f"below {SPANISH_MIN_SECTION}: {too_hard}"


def test_the_measure_can_fail(spanish):
    # A control: a long, hard sentence is caught in both languages.
    hard = (
        "Immunomodulatory pharmacotherapeutic interventions necessitate "
        "comprehensive multidisciplinary evaluation of contraindications."
    )
    assert textstat.fernandez_huerta(hard) < SPANISH_MIN_SECTION
    textstat.set_lang("en_US")
    assert textstat.flesch_kincaid_grade(hard) > ENGLISH_MAX_GRADE
