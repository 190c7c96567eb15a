"""Every interface string is in the Spanish catalog, translated, and used."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from helpers import spanish_catalog

ROOT = Path(__file__).resolve().parent.parent


def extracted_messages(tmp_path: Path) -> set[str]:
    """What pybabel finds in the code and templates today."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {
            m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id
        }


def own_language_text(body: str) -> str:
    """The page minus links and buttons marked as another language (the
    toggle: a link, or on the form a button that carries the answers)."""
    return re.sub(r'<(a|button) [^>]*\blang="[a-z]+"[^>]*>.*?</\1>', "", body)


def test_every_interface_string_is_translated(tmp_path):
    catalog = spanish_catalog()
    missing, untranslated = [], []
    for msgid in sorted(extracted_messages(tmp_path)):
        message = catalog.get(msgid)
        if message is None:
            missing.append(msgid)
        elif (
            not message.string
            or message.fuzzy
            or (isinstance(message.string, tuple) and not all(message.string))
        ):
            untranslated.append(msgid)
    assert not missing, f"not in messages.po (run: make translations): {missing}"
    assert not untranslated, f"untranslated or fuzzy in messages.po: {untranslated}"


PAGES = {
    "es": (
        "/es/inmunoterapia",
        "/es/privacidad",
        "/es/no-existe",
        "/es/solicitar-cita",
    ),
    "en": (
        "/en/immunotherapy",
        "/en/privacy",
        "/en/no-such-page",
        "/en/request-appointment",
    ),
}


@pytest.mark.parametrize("lang", ["es", "en"])
def test_pages_show_no_interface_text_of_the_other_language(client, lang):
    """Spanish pages show no English strings of the catalog, and vice versa."""
    other_language = [
        (m.id if lang == "es" else m.string)
        for m in spanish_catalog()
        if m.id and isinstance(m.string, str) and m.string != m.id
    ]
    other_language = [text for text in other_language if len(text) > 3]
    for path in PAGES[lang]:
        body = own_language_text(client.get(path).get_data(as_text=True))
        found = [text for text in other_language if text.split("%(")[0] in body]
        assert not found, f"{path} shows the other language: {found}"
