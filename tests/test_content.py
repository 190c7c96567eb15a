"""Broken content fails fast, naming the file and the key, everywhere it is read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app import create_app
from app.content import ContentError
from app.content import load_content
from app.startup import StartupError


def edit_page(content: Path, mutate) -> None:
    path = content / "pages" / "immunotherapy.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


BREAKAGES = {
    "missing Spanish key": (
        lambda d: d["es"]["sections"][0].pop("heading"),
        "pages/immunotherapy.yaml: es.sections[0].heading: missing",
    ),
    "unknown key": (
        lambda d: d["en"].update(subtitle="x"),
        "pages/immunotherapy.yaml: en.subtitle: unknown key",
    ),
    "section only in English": (
        lambda d: d["es"]["sections"].pop(),
        "pages/immunotherapy.yaml: es.sections: ids",
    ),
    "list shorter in Spanish": (
        lambda d: (
            d["es"]["sections"][-1]["body"][-2]["list"].pop()
            if isinstance(d["es"]["sections"][-1]["body"][-2], dict)
            else d["es"]["sections"][-1]["body"].append("extra")
        ),
        "pages/immunotherapy.yaml: es.sections[6].body: blocks differ from en",
    ),
    "bad date": (
        lambda d: d.update(updated="last week"),
        "pages/immunotherapy.yaml: updated: must be a date",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_broken_page_is_reported_with_file_and_key(content_copy, breakage):
    mutate, expected = BREAKAGES[breakage]
    edit_page(content_copy, mutate)
    with pytest.raises(ContentError) as caught:
        load_content(content_copy)
    assert any(problem.startswith(expected) for problem in caught.value.problems), (
        caught.value.problems
    )


def test_broken_yaml_is_reported_with_file(content_copy):
    (content_copy / "pages" / "immunotherapy.yaml").write_text("en: [unclosed\n")
    with pytest.raises(ContentError) as caught:
        load_content(content_copy)
    assert caught.value.problems[0].startswith(
        "pages/immunotherapy.yaml: (file): cannot be read"
    )


def test_every_problem_is_reported_at_once(content_copy):
    edit_page(
        content_copy, lambda d: (d["en"].pop("title"), d["es"].pop("description"))
    )
    (content_copy / "site.yaml").write_text("name: X\n")
    with pytest.raises(ContentError) as caught:
        load_content(content_copy)
    problems = "\n".join(caught.value.problems)
    assert "pages/immunotherapy.yaml: en.title: missing" in problems
    assert "pages/immunotherapy.yaml: es.description: missing" in problems
    assert "site.yaml: former_name: missing" in problems


def test_start_up_stops_with_a_clean_message(content_copy):
    edit_page(content_copy, lambda d: d["es"]["sections"][0].pop("heading"))
    with pytest.raises(StartupError) as caught:
        create_app({"TESTING": True, "CONTENT_DIR": str(content_copy)})
    message = str(caught.value.code)
    assert "The content folder has problems" in message
    assert "pages/immunotherapy.yaml: es.sections[0].heading: missing" in message


def run_flask(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_flask_content_check_names_file_and_key(content_copy):
    edit_page(content_copy, lambda d: d["en"].update(subtitle="x"))
    result = run_flask("content", "check", str(content_copy))
    assert result.returncode == 1
    assert "pages/immunotherapy.yaml: en.subtitle: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_flask_content_check_passes_on_the_real_content():
    result = run_flask("content", "check")
    assert result.returncode == 0, result.stderr
    assert "Content OK" in result.stdout


def test_server_start_with_broken_content_prints_no_traceback(content_copy):
    edit_page(content_copy, lambda d: d["es"].pop("lead"))
    env = {
        "PATH": "/usr/bin:/bin",
        "FLASK_APP": "app",
        "FLASK_SECRET_KEY": "x",
        "FLASK_MAIL_SERVER": "127.0.0.1",
        "FLASK_MAIL_DEFAULT_SENDER": "website@example.org",
        "FLASK_CLINIC_INBOX": "clinic@example.org",
        "FLASK_OUTBOX_PATH": str(content_copy.parent / "outbox.sqlite3"),
        "FLASK_CONTENT_DIR": str(content_copy),
    }
    result = run_flask("routes", env=env)
    assert result.returncode == 1
    assert "pages/immunotherapy.yaml: es.lead: missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_secret_key_stops_production_start(content_copy):
    with pytest.raises(StartupError) as caught:
        create_app({"SECRET_KEY": None, "TESTING": False, "DEBUG": False})
    assert "SECRET_KEY" in str(caught.value.code)
