"""Broken content is reported the way its editor needs: every problem at once,
one line each, with file, line, section ids and 1-based positions; at start-up,
from `flask content check`, and in the browser while developing.

Each test breaks a copy of the real content folder by editing its text (so line
numbers are those of a real file), and finds the expected line by searching
that text, not by asking the loader.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from helpers import OUTBOX_KEY
from ruamel.yaml import YAML
from servers import free_port

from app import create_app
from app.config import CONTENT_DIR as DEFAULT_CONTENT_DIR
from app.config import StartupError
from app.content import AWAITING_REVIEW
from app.content import ContentError
from app.content import launch_problems
from app.content import load_content

ROOT = Path(__file__).resolve().parent.parent
YAML_DATA = YAML(typ="safe")
TOPIC = "pages/immunotherapy.yaml"
PRIVACY = "pages/privacy.yaml"


# --- Editing a copy of the content as an editor would: as text. ------------


def read(content: Path, name: str) -> list[str]:
    return (content / name).read_text(encoding="utf-8").splitlines(keepends=True)


def write(content: Path, name: str, lines: list[str]) -> None:
    (content / name).write_text("".join(lines), encoding="utf-8")


def line_of(lines: list[str], pattern: str, start: int = 0) -> int:
    """The 1-based number of the first line at or after ``start`` matching."""
    for number, line in enumerate(lines[start:], start + 1):
        if re.search(pattern, line):
            return number
    raise AssertionError(f"no line matches {pattern!r}")


def spanish_start(lines: list[str]) -> int:
    """The line number of ``es:``; everything after it is the Spanish text."""
    return line_of(lines, r"^es:")


def nested_section(content: Path, lang: str = "es") -> tuple[int, dict, int, dict]:
    """The first section with three subsections, and its third subsection."""
    data = YAML_DATA.load((content / TOPIC).read_text(encoding="utf-8"))
    for i, section in enumerate(data[lang]["sections"]):
        if len(section.get("sections", [])) >= 3:
            return i, section, 2, section["sections"][2]
    raise AssertionError("the topic page has no section with three subsections")


def subsection_line(content: Path, sub_id: str, lang: str = "es") -> int:
    """Where ``- id: sub_id`` starts in the given language's half of the file."""
    lines = read(content, TOPIC)
    start = spanish_start(lines) if lang == "es" else 0
    return line_of(lines, rf"^\s+- id: {re.escape(sub_id)}\s*$", start)


def problems_of(content: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_content(content)
    return caught.value.problems


def where(i: int, section: dict, j: int, sub: dict, lang: str = "es") -> str:
    return (
        f'{lang} > section {i + 1} "{section["id"]}" > subsection {j + 1} "{sub["id"]}"'
    )


# --- The messages. ----------------------------------------------------------


def test_missing_key_is_one_line_with_section_ids_positions_and_line(content_copy):
    i, section, j, sub = nested_section(content_copy)
    lines = read(content_copy, TOPIC)
    sub_line = subsection_line(content_copy, sub["id"])
    del lines[line_of(lines, r"^\s+heading:", sub_line) - 1]
    write(content_copy, TOPIC, lines)

    assert problems_of(content_copy) == [
        f"{TOPIC}:{sub_line}: {where(i, section, j, sub)} > heading: missing"
    ]


def test_misspelt_key_is_one_line_that_suggests_the_right_one(content_copy):
    i, section, j, sub = nested_section(content_copy)
    lines = read(content_copy, TOPIC)
    body_line = line_of(lines, r"^\s+body:", subsection_line(content_copy, sub["id"]))
    lines[body_line - 1] = lines[body_line - 1].replace("body:", "bdy:")
    write(content_copy, TOPIC, lines)

    # Not a second line saying "body: missing".
    assert problems_of(content_copy) == [
        f"{TOPIC}:{body_line}: {where(i, section, j, sub)} > bdy: "
        'unknown key; did you mean "body"?'
    ]


def test_misspelt_optional_key_suggests_the_right_one(content_copy):
    lines = read(content_copy, "site.yaml")
    number = line_of(lines, r"^response_time:")
    lines[number - 1] = lines[number - 1].replace("response_time", "respone_time")
    write(content_copy, "site.yaml", lines)

    assert problems_of(content_copy) == [
        f'site.yaml:{number}: respone_time: unknown key; did you mean "response_time"?'
    ]


def test_unknown_key_with_no_likely_meaning_lists_the_keys(content_copy):
    lines = read(content_copy, PRIVACY)
    number = line_of(lines, r"^kind:")
    lines.insert(number, "colour: blue\n")
    write(content_copy, PRIVACY, lines)

    [problem] = problems_of(content_copy)
    assert problem.startswith(f"{PRIVACY}:{number + 1}: colour: unknown key;")
    assert "expected one of: kind, updated, review, effective, slug, en, es" in problem


def test_the_old_last_reviewed_key_says_what_it_became(content_copy):
    lines = read(content_copy, PRIVACY)
    number = line_of(lines, r"^updated:")
    lines[number - 1] = lines[number - 1].replace("updated:", "last_reviewed:")
    write(content_copy, PRIVACY, lines)

    assert problems_of(content_copy) == [
        f'{PRIVACY}:{number}: last_reviewed: renamed: write "updated" instead'
    ]


def test_wrong_value_names_its_line_and_what_is_expected(content_copy):
    lines = read(content_copy, PRIVACY)
    number = line_of(lines, r"^updated:")
    lines[number - 1] = "updated: last week\n"
    write(content_copy, PRIVACY, lines)

    assert problems_of(content_copy) == [
        f"{PRIVACY}:{number}: updated: must be a date such as 2026-11-27, "
        "not 'last week'"
    ]


def test_positions_in_lists_are_one_based(content_copy):
    lines = read(content_copy, PRIVACY)
    number = line_of(lines, r"^\s+lead:", spanish_start(lines)) + 2
    assert lines[number - 1].lstrip().startswith("- "), "expected a second paragraph"
    lines[number - 1] = re.sub(r"- .*", '- ""', lines[number - 1])
    write(content_copy, PRIVACY, lines)

    assert problems_of(content_copy) == [
        f"{PRIVACY}:{number}: es > lead paragraph 2: must not be empty"
    ]


def test_yaml_syntax_error_names_the_file_and_line(content_copy):
    lines = read(content_copy, TOPIC)
    number = line_of(lines, r"^\s+title:")
    lines[number - 1] = "\t" + lines[number - 1].lstrip()
    write(content_copy, TOPIC, lines)

    assert problems_of(content_copy) == [
        f"{TOPIC}:{number}: not valid YAML: line {number} has a tab; "
        "indent with spaces, not tabs"
    ]


@pytest.mark.parametrize(
    ("mistake", "advice"),
    [
        # An unclosed quote: named where it opens, not at the end of the file.
        (lambda line: line.replace(": ", ': "', 1), "a quote opened on line {n}"),
        (lambda line: line + ": more", "has a colon and a space inside a value"),
        (lambda line: " " + line, "check the quotes, colons and indentation"),
    ],
    ids=["open quote", "colon in a value", "indentation"],
)
def test_yaml_syntax_errors_say_what_to_check_in_plain_words(
    content_copy, mistake, advice
):
    lines = read(content_copy, PRIVACY)
    number = line_of(lines, r"^\s+title:")
    lines[number - 1] = mistake(lines[number - 1].rstrip("\n")) + "\n"
    write(content_copy, PRIVACY, lines)

    [problem] = problems_of(content_copy)
    assert problem.startswith(f"{PRIVACY}:"), problem
    assert advice.format(n=number) in problem
    assert "scalar" not in problem and "block" not in problem, "PyYAML's words"
    line = int(problem.split(":")[1])
    assert f"line {line}" in problem


def test_a_key_given_twice_is_reported(content_copy):
    lines = read(content_copy, PRIVACY)
    number = line_of(lines, r"^kind:")
    lines.insert(number, lines[number - 1])
    write(content_copy, PRIVACY, lines)

    # Refused by the YAML reader: neither copy may win without a word.
    assert problems_of(content_copy) == [
        f"{PRIVACY}:{number + 1}: not valid YAML: kind on line {number + 1} is "
        "already a key above it in the same group; keep one of the two"
    ]


def test_phone_numbers_are_checked_and_formatted(content_copy):
    lines = read(content_copy, "site.yaml")
    number = line_of(lines, r"^phone:")
    lines[number - 1] = "phone: 555\n"
    write(content_copy, "site.yaml", lines)
    assert problems_of(content_copy) == [
        f"site.yaml:{number}: phone: must be a valid phone number, "
        "such as +1 559 555 0100"
    ]

    lines[number - 1] = "phone: (559) 555-0100\n"
    write(content_copy, "site.yaml", lines)
    phone = load_content(content_copy).site.phone
    assert (phone.e164, phone.display) == ("+15595550100", "(559) 555-0100")


def test_every_problem_in_every_file_is_reported_at_once(content_copy):
    i, section, j, sub = nested_section(content_copy)
    topic = read(content_copy, TOPIC)
    sub_line = subsection_line(content_copy, sub["id"])
    del topic[line_of(topic, r"^\s+heading:", sub_line) - 1]
    title = line_of(topic, r"^\s+title:")
    topic[title - 1] = topic[title - 1].replace("title:", "titel:")
    write(content_copy, TOPIC, topic)
    (content_copy / PRIVACY).write_text("en: [unclosed\n", encoding="utf-8")
    site = read(content_copy, "site.yaml")
    name = line_of(site, r"^former_name:")
    del site[name - 1]
    write(content_copy, "site.yaml", site)

    problems = problems_of(content_copy)
    # File order, and line order within a file.
    assert problems[0] == "site.yaml: former_name: missing"
    assert problems[1] == (
        f'{TOPIC}:{title}: en > titel: unknown key; did you mean "title"?'
    )
    assert problems[2] == (
        f"{TOPIC}:{sub_line}: {where(i, section, j, sub)} > heading: missing"
    )
    # Named where the [ opens, not where PyYAML noticed (line 2).
    assert problems[3] == (
        f"{PRIVACY}:1: not valid YAML: a [ or {{ opened on line 1 is never closed"
    )
    assert len(problems) == 4


# --- English/Spanish parity and rules between files (issue 9.8). ------------


def test_a_misspelt_key_does_not_hide_a_missing_spanish_subsection(content_copy):
    """Both in one run, also from `flask content check`."""
    i, section, j, sub = nested_section(content_copy)
    lines = read(content_copy, TOPIC)
    first = subsection_line(content_copy, sub["id"])
    end = line_of(lines, r"^\s+- id: ", first)
    del lines[first - 1 : end - 1]  # the Spanish subsection
    description = line_of(lines, r"^description:|^  description:")
    lines[description - 1] = lines[description - 1].replace(
        "description:", "descripton:"
    )
    write(content_copy, TOPIC, lines)

    misspelt = 'descripton: unknown key; did you mean "description"?'
    missing = f'sections: subsection "{sub["id"]}" is missing (en has it)'
    problems = problems_of(content_copy)
    assert len(problems) == 2, problems
    assert problems[0].endswith(misspelt) and problems[1].endswith(missing)
    result = run_flask("content", "check", str(content_copy))
    assert result.returncode == 1
    assert misspelt in result.stderr and missing in result.stderr


def test_spanish_must_have_as_many_lead_paragraphs(content_copy):
    lines = read(content_copy, PRIVACY)
    lead = line_of(lines, r"^\s+lead:", spanish_start(lines))
    data = YAML_DATA.load((content_copy / PRIVACY).read_text(encoding="utf-8"))
    assert len(data["en"]["lead"]) == 2, "this test needs two lead paragraphs"
    del lines[lead]  # the first Spanish lead paragraph
    write(content_copy, PRIVACY, lines)

    assert problems_of(content_copy) == [
        f"{PRIVACY}:{lead}: es > lead: 1 paragraph; en has 2 paragraphs"
    ]


def test_spanish_must_have_every_nested_section(content_copy):
    i, section, j, sub = nested_section(content_copy)
    lines = read(content_copy, TOPIC)
    first = subsection_line(content_copy, sub["id"])
    end = line_of(lines, r"^\s+- id: ", first)  # the next subsection
    del lines[first - 1 : end - 1]
    write(content_copy, TOPIC, lines)

    es_section = line_of(lines, rf"^\s+- id: {section['id']}$", spanish_start(lines))
    sections_line = line_of(lines, r"^\s+sections:", es_section)
    assert problems_of(content_copy) == [
        f'{TOPIC}:{sections_line}: es > section {i + 1} "{section["id"]}" > '
        f'sections: subsection "{sub["id"]}" is missing (en has it)'
    ]


def test_spanish_nested_sections_must_have_the_english_ids(content_copy):
    i, section, j, sub = nested_section(content_copy)
    lines = read(content_copy, TOPIC)
    number = subsection_line(content_copy, sub["id"])
    lines[number - 1] = lines[number - 1].replace(sub["id"], "renamed")
    write(content_copy, TOPIC, lines)

    problems = problems_of(content_copy)
    renamed = dict(sub, id="renamed")
    assert f"{TOPIC}:{number}: {where(i, section, j, renamed)}: is not in en" in (
        problems
    )
    assert any(
        problem.endswith(f'subsection "{sub["id"]}" is missing (en has it)')
        for problem in problems
    ), problems


def test_spanish_sections_must_have_the_english_blocks(content_copy):
    i, section, j, sub = nested_section(content_copy)
    lines = read(content_copy, TOPIC)
    body = line_of(lines, r"^\s+body:", subsection_line(content_copy, sub["id"]))
    lines.insert(body, lines[body])  # one more paragraph
    write(content_copy, TOPIC, lines)

    count = len(sub["body"])
    en_blocks = ", ".join(["paragraph"] * count)
    assert sub["body"] == [b for b in sub["body"] if isinstance(b, str)]
    assert problems_of(content_copy) == [
        f"{TOPIC}:{body}: {where(i, section, j, sub)} > body: "
        f"has {en_blocks}, paragraph; en has {en_blocks}"
    ]


def test_spanish_alerts_and_lists_must_have_as_many_items(content_copy):
    lines = read(content_copy, TOPIC)
    alert = line_of(lines, r"^\s+- alert: emergency", spanish_start(lines))
    first_item = line_of(lines, r"^\s+list:", alert) + 1
    del lines[first_item - 1]  # one sign fewer in the Spanish emergency box
    write(content_copy, TOPIC, lines)

    data = YAML_DATA.load((ROOT / "content" / TOPIC).read_text(encoding="utf-8"))
    [(i, section)] = [
        (i, s)
        for i, s in enumerate(data["es"]["sections"])
        if any(isinstance(b, dict) and b.get("alert") for b in s["body"])
    ]
    body = line_of(lines, r"^\s+body:", subsection_line(content_copy, section["id"]))

    def shape(blocks: list, fewer: str = "") -> str:
        return ", ".join(
            "paragraph"
            if isinstance(b, str)
            else f"{b['alert']} alert of {len(b['list']) - (b['alert'] == fewer)} items"
            if "alert" in b
            else f"list of {len(b['list'])} items"
            for b in blocks
        )

    assert problems_of(content_copy) == [
        f'{TOPIC}:{body}: es > section {i + 1} "{section["id"]}" > body: '
        f"has {shape(section['body'], 'emergency')}; en has {shape(section['body'])}"
    ]


def test_spanish_sections_must_be_in_the_english_order(content_copy):
    i, section, j, sub = nested_section(content_copy)
    first, second = (s["id"] for s in section["sections"][:2])
    lines = read(content_copy, TOPIC)
    a = subsection_line(content_copy, first)
    b = subsection_line(content_copy, second)
    lines[a - 1], lines[b - 1] = (
        lines[a - 1].replace(first, second),
        lines[b - 1].replace(second, first),
    )
    write(content_copy, TOPIC, lines)

    es_section = line_of(lines, rf"^\s+- id: {section['id']}$", spanish_start(lines))
    sections_line = line_of(lines, r"^\s+sections:", es_section)
    order = ", ".join(s["id"] for s in section["sections"])
    assert problems_of(content_copy) == [
        f"{TOPIC}:{sections_line}: es > section "
        f'{i + 1} "{section["id"]}" > sections: subsections are in a different '
        f"order from en: {order}"
    ]


def test_a_misspelt_sections_key_is_said_once_not_as_missing_subsections(
    content_copy,
):
    i, section, j, sub = nested_section(content_copy)
    lines = read(content_copy, TOPIC)
    es_section = line_of(lines, rf"^\s+- id: {section['id']}$", spanish_start(lines))
    number = line_of(lines, r"^\s+sections:", es_section)
    lines[number - 1] = lines[number - 1].replace("sections:", "sectons:")
    write(content_copy, TOPIC, lines)

    assert problems_of(content_copy) == [
        f'{TOPIC}:{number}: es > section {i + 1} "{section["id"]}" > sectons: '
        'unknown key; did you mean "sections"?'
    ]


@pytest.mark.parametrize("taken", ["main", "sources"])
def test_a_section_id_cannot_be_one_the_page_uses_itself(content_copy, taken):
    i, section, j, sub = nested_section(content_copy)
    text = (content_copy / TOPIC).read_text(encoding="utf-8")
    text = re.sub(rf"(- id: ){sub['id']}$", rf"\g<1>{taken}", text, flags=re.M)
    (content_copy / TOPIC).write_text(text, encoding="utf-8")

    assert problems_of(content_copy) == [
        f"{TOPIC}:{subsection_line(content_copy, taken, lang)}: "
        f"{where(i, section, j, dict(sub, id=taken), lang)} > id: "
        f'"{taken}" is used by the page itself; rename it'
        for lang in ("en", "es")
    ]


def test_both_languages_must_list_as_many_sources(content_copy):
    lines = read(content_copy, TOPIC)
    es = spanish_start(lines)
    es_sources = line_of(lines, r"^  sources:", es)
    english = YAML_DATA.load("".join(lines))["en"]["sources"]
    del lines[es_sources : es_sources + 2]  # the first Spanish source
    write(content_copy, TOPIC, lines)

    count = len(english)
    assert problems_of(content_copy) == [
        f"{TOPIC}:{es_sources}: es > sources: {count - 1} sources; "
        f"en has {count} sources"
    ]


def test_two_pages_cannot_share_a_slug(content_copy):
    shutil.copy(content_copy / PRIVACY, content_copy / "pages" / "second.yaml")
    lines = read(content_copy, PRIVACY)

    assert problems_of(content_copy) == [
        f"pages/second.yaml:{line_of(lines, r'^  en:')}: slug > en: "
        '"privacy" is already the en slug of pages/privacy.yaml',
        f"pages/second.yaml:{line_of(lines, r'^  es:')}: slug > es: "
        '"privacidad" is already the es slug of pages/privacy.yaml',
    ]


def test_section_ids_are_unique_on_a_page(content_copy):
    i, section, j, sub = nested_section(content_copy)
    first = section["sections"][0]["id"]
    second = section["sections"][1]["id"]
    text = (content_copy / TOPIC).read_text(encoding="utf-8")
    text = re.sub(rf"(- id: ){second}$", rf"\g<1>{first}", text, flags=re.M)
    (content_copy / TOPIC).write_text(text, encoding="utf-8")

    problems = problems_of(content_copy)
    for lang in ("en", "es"):
        number = subsection_line(content_copy, first, lang)
        second_line = line_of(read(content_copy, TOPIC), rf"- id: {first}$", number)
        assert (
            f'{TOPIC}:{second_line}: {lang} > section {i + 1} "{section["id"]}" > '
            f'subsection 2 "{first}" > id: "{first}" is already the id of '
            f'{lang} > section {i + 1} "{section["id"]}" > subsection 1 "{first}"'
        ) in problems, problems
    assert len(problems) == 2


# --- The fields of the shared contract (issue 10). --------------------------


def test_review_effective_sources_and_privacy_practices_are_read(content_copy):
    topic = (content_copy / TOPIC).read_text(encoding="utf-8")
    assert "\nreview: null\n" in topic
    topic = topic.replace(
        "\nreview: null\n",
        "\nreview:\n  name: A. Example\n  credentials: MD\n  date: 2026-11-20\n"
        "effective: 2026-12-01\n",
    )
    (content_copy / TOPIC).write_text(topic, encoding="utf-8")
    site = (content_copy / "site.yaml").read_text(encoding="utf-8")
    assert "\nprivacy_practices_url: null\n" in site
    site = site.replace(
        "\nprivacy_practices_url: null\n",
        "\nprivacy_practices_url:\n"
        "  en: https://clinic.example/npp-en.pdf\n"
        "  es: https://clinic.example/npp-es.pdf\n",
    )
    (content_copy / "site.yaml").write_text(site, encoding="utf-8")
    raw = YAML_DATA.load(topic)

    content = load_content(content_copy)
    page = content.pages["immunotherapy"]
    assert (page.review.name, page.review.credentials) == ("A. Example", "MD")
    assert page.review.date == datetime.date(2026, 11, 20)
    assert page.effective == datetime.date(2026, 12, 1)
    for lang in ("en", "es"):
        assert [(s.title, s.url) for s in page.text[lang].sources] == [
            (s["title"], s["url"]) for s in raw[lang]["sources"]
        ]
    assert content.site.privacy_practices_url["es"] == (
        "https://clinic.example/npp-es.pdf"
    )
    assert content.pages["privacy"].review is None


def test_source_addresses_must_be_https(content_copy):
    lines = read(content_copy, TOPIC)
    es = spanish_start(lines)
    wrong = []
    for start in (1, es):
        url = line_of(lines, r"^      url: https://", start)
        lines[url - 1] = lines[url - 1].replace("https://", "http://")
        wrong.append(url)
    write(content_copy, TOPIC, lines)

    assert problems_of(content_copy) == [
        f"{TOPIC}:{wrong[0]}: en > source 1 > url: must start with https://",
        f"{TOPIC}:{wrong[1]}: es > source 1 > url: must start with https://",
    ]


def test_json_ld_claims_a_review_only_when_the_page_has_one(content_copy, app_config):
    lines = read(content_copy, TOPIC)
    review = line_of(lines, r"^review: null$")
    lines[review - 1] = (
        "review:\n  name: A. Example\n  credentials: MD\n  date: 2026-11-20\n"
    )
    write(content_copy, TOPIC, lines)
    client = create_app({**app_config, "CONTENT_DIR": str(content_copy)}).test_client()

    def structured_data(path: str) -> dict:
        body = client.get(path).get_data(as_text=True)
        match = re.search(r'<script type="application/ld\+json">(.*?)</script>', body)
        return json.loads(match.group(1))

    reviewed = structured_data("/es/inmunoterapia")
    assert reviewed["lastReviewed"] == "2026-11-20"
    assert reviewed["reviewedBy"] == {"@type": "Person", "name": "A. Example"}
    assert "lastReviewed" not in structured_data("/es/privacidad")
    assert "reviewedBy" not in structured_data("/es/privacidad")


# --- Where the problems are shown. ------------------------------------------


def break_title(content: Path) -> str:
    """Misspell the English title's key; the problem line it should cause."""
    lines = read(content, TOPIC)
    number = line_of(lines, r"^\s+title:")
    lines[number - 1] = lines[number - 1].replace("title:", "titel:")
    write(content, TOPIC, lines)
    return f'{TOPIC}:{number}: en > titel: unknown key; did you mean "title"?'


def run_flask(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_flask_content_check_prints_every_problem_and_fails(content_copy):
    problem = break_title(content_copy)
    (content_copy / PRIVACY).write_text("en: [unclosed\n", encoding="utf-8")
    result = run_flask("content", "check", str(content_copy))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == problem
    assert lines[1].startswith(f"{PRIVACY}:1: not valid YAML: ")
    assert lines[2] == f"2 problems in {content_copy}"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_flask_content_check_passes_on_the_real_content():
    result = run_flask("content", "check")
    assert result.returncode == 0, result.stderr
    assert "Content OK" in result.stdout


# --- flask content check --launch: what the clinic must still give. -------

LAUNCH_FACTS = ("phone", "hours", "response_time", "privacy_practices_url")


def fill_in_clinic_facts(content: Path) -> None:
    """What the clinic gives before launch (fictional, test-only values)."""
    site = content / "site.yaml"
    data = YAML_DATA.load(site.read_text(encoding="utf-8"))
    data.update(
        phone="+1 559 555 0100",
        hours={"en": "Monday to Friday, 8 to 5", "es": "De lunes a viernes, de 8 a 5"},
        response_time={
            "en": "We call you back within one business day.",
            "es": "Le llamamos en un plazo de un día hábil.",
        },
        privacy_practices_url={
            "en": "https://clinic.example.org/notice-of-privacy-practices",
            "es": "https://clinic.example.org/es/aviso-de-practicas-de-privacidad",
        },
    )
    YAML_DATA.dump(data, site)
    lines = read(content, TOPIC)
    lines[line_of(lines, r"^review:") - 1] = (
        "review: {name: Ana Example, credentials: MD, date: 2026-12-10}\n"
    )
    write(content, TOPIC, lines)
    changes = content / "CHANGES.md"
    reviewed = changes.read_text(encoding="utf-8").replace(
        AWAITING_REVIEW, "**Reviewed by Ana Example, MD, 2026-12-10.**"
    )
    changes.write_text(reviewed, encoding="utf-8")


def test_launch_check_fails_on_todays_content_naming_each_missing_fact():
    result = run_flask("content", "check", "--launch")
    assert result.returncode == 1
    assert "Content OK" in result.stdout
    message = result.stderr
    assert message.startswith("Not ready to launch: ")
    lines = message.splitlines()[1:]
    site_lines = read(ROOT / "content", "site.yaml")
    for key in LAUNCH_FACTS:
        number = line_of(site_lines, rf"^{key}:")
        assert any(
            line.startswith(f"site.yaml:{number}: {key}: not set") for line in lines
        ), key
    topic_review = line_of(read(ROOT / "content", TOPIC), r"^review:")
    assert f"{TOPIC}:{topic_review}: review: no medical reviewer named yet" in lines
    # Every change awaiting review, by its line in CHANGES.md.
    changes = read(ROOT / "content", "CHANGES.md")
    awaiting = [
        number
        for number, line in enumerate(changes, start=1)
        if line.lstrip().startswith("- ") and AWAITING_REVIEW in line
    ]
    assert len(awaiting) > 10
    listed = [line for line in lines if "awaiting clinician review" in line]
    assert [int(line.split(":")[1]) for line in listed] == awaiting
    count = len(lines)
    assert message.splitlines()[0] == (
        f"Not ready to launch: {count} things the clinic must still give or review:"
    )
    assert "Traceback" not in message


def test_launch_check_passes_once_the_clinic_has_filled_everything_in(content_copy):
    fill_in_clinic_facts(content_copy)
    result = run_flask("content", "check", "--launch", str(content_copy))
    assert result.returncode == 0, result.stderr
    assert "Ready to launch" in result.stdout
    # Without --launch, today's content passes: it is valid, just not launched.
    assert run_flask("content", "check").returncode == 0


def test_launch_check_names_one_fact_left_and_one_change_left(content_copy):
    fill_in_clinic_facts(content_copy)
    site = content_copy / "site.yaml"
    data = YAML_DATA.load(site.read_text(encoding="utf-8"))
    YAML_DATA.dump({**data, "hours": None}, site)
    number = line_of(read(content_copy, "site.yaml"), r"^hours:")
    changes = read(content_copy, "CHANGES.md")
    last_item = max(
        n for n, line in enumerate(changes, start=1) if line.startswith("- ")
    )
    changes.insert(last_item, f"- A new statement. {AWAITING_REVIEW}\n")
    write(content_copy, "CHANGES.md", changes)

    content = load_content(content_copy)
    assert launch_problems(content, content_copy) == [
        f"site.yaml:{number}: hours: not set: the office hours",
        f"CHANGES.md:{last_item + 1}: awaiting clinician review: A new statement.",
    ]


def test_launch_check_needs_the_changes_log(content_copy):
    fill_in_clinic_facts(content_copy)
    (content_copy / "CHANGES.md").unlink()
    content = load_content(content_copy)
    assert launch_problems(content, content_copy) == [
        "CHANGES.md: missing; it lists the changes to review"
    ]


def test_start_up_stops_with_one_message_listing_the_problems(content_copy):
    problem = break_title(content_copy)
    with pytest.raises(StartupError) as caught:
        create_app({"TESTING": True, "CONTENT_DIR": str(content_copy)})
    assert str(caught.value.code) == f"The site cannot start:\n  - {problem}"


def test_server_start_with_broken_content_prints_no_traceback(content_copy):
    problem = break_title(content_copy)
    env = {
        "PATH": "/usr/bin:/bin",
        "FLASK_APP": "app",
        "FLASK_SECRET_KEY": "x",
        "FLASK_SITE_URL": "https://immunotherapy.example.org",
        "FLASK_MAIL_SERVER": "127.0.0.1",
        "FLASK_MAIL_DEFAULT_SENDER": "website@example.org",
        "FLASK_CLINIC_INBOX": "clinic@example.org",
        "FLASK_OUTBOX_PATH": str(content_copy.parent / "outbox.sqlite3"),
        "FLASK_OUTBOX_KEY": OUTBOX_KEY,
        "FLASK_CONTENT_DIR": str(content_copy),
    }
    result = run_flask("routes", env=env)
    assert result.returncode == 1
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_secret_key_stops_production_start(content_copy):
    with pytest.raises(StartupError) as caught:
        create_app({"SECRET_KEY": None, "TESTING": False, "DEBUG": False})
    assert "SECRET_KEY" in str(caught.value.code)


def edit(content: Path, name: str, old: str, new: str) -> None:
    """Change the file as an editor saving it would."""
    path = content / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_debug_start_with_broken_content_shows_the_problems(app_config, content_copy):
    """`flask --debug run` keeps running and every address lists the problems."""
    problem = break_title(content_copy)
    config = {**app_config, "TESTING": False, "DEBUG": True}
    client = create_app({**config, "CONTENT_DIR": str(content_copy)}).test_client()
    for path in ("/en/immunotherapy", "/es/privacidad", "/"):
        response = client.get(path)
        assert response.status_code == 500
        assert response.headers["Cache-Control"] == "no-store"
        page = response.get_data(as_text=True)
        assert "The content folder has problems:" in page
        assert f"  - {problem}" in page


def wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            pass  # the reloader restarting the server mid-answer
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.3)


def test_flask_debug_run_survives_a_broken_edit_and_reloads(tmp_path):
    """The real dev server, set up by .flaskenv alone, as a developer starts it:
    the reloader watches content/** (nothing listed by hand)."""
    shutil.copy(ROOT / ".flaskenv", tmp_path / ".flaskenv")
    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content)
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    env = {
        "PATH": os.environ["PATH"],
        "FLASK_CONTENT_DIR": str(content),
        "FLASK_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--debug", "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{base}/en/privacy").status_code == 200)

        problem = break_title(content)
        wait_for(lambda: problem in requests.get(f"{base}/en/privacy").text)
        assert server.poll() is None, "the dev server stopped"

        # A changed slug needs a new URL rule: the reloader restarts the app.
        edit(content, TOPIC, "titel:", "title:")
        edit(content, TOPIC, "en: immunotherapy", "en: immunotherapy-for-cancer")
        wait_for(
            lambda: (
                requests.get(f"{base}/en/immunotherapy-for-cancer").status_code == 200
            )
        )
        assert server.poll() is None

        # A new page file, listed nowhere, is served after the next restart.
        text = (content / PRIVACY).read_text(encoding="utf-8")
        text = text.replace("en: privacy", "en: second-page")
        (content / "pages" / "second.yaml").write_text(
            text.replace("es: privacidad", "es: segunda-pagina"), encoding="utf-8"
        )
        wait_for(lambda: requests.get(f"{base}/es/segunda-pagina").status_code == 200)
        assert server.poll() is None
    except AssertionError:
        print((tmp_path / "server.log").read_text())
        raise
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
