"""Every interface string is in the Spanish catalog, translated, and used."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
    """The page minus links marked as another language (the toggle)."""
    return re.sub(r'<a [^>]*\blang="[a-z]+"[^>]*>.*?</a>', "", body)


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
    assert not missing, f"not in messages.po (run: flask translate update): {missing}"
    assert not untranslated, f"untranslated or fuzzy in messages.po: {untranslated}"


def test_spanish_pages_show_no_english_interface_text(client, tmp_path):
    catalog = spanish_catalog()
    english = [
        m.id
        for m in catalog
        if m.id and isinstance(m.id, str) and m.string != m.id and len(m.id) > 3
    ]
    for path in (
        "/es/inmunoterapia",
        "/es/privacidad",
        "/es/no-existe",
        "/es/solicitar-cita",
    ):
        body = own_language_text(client.get(path).get_data(as_text=True))
        found = [text for text in english if text.split("%(")[0] in body]
        assert not found, f"{path} shows English: {found}"


def test_english_pages_show_no_spanish_interface_text(client):
    spanish = [
        m.string
        for m in spanish_catalog()
        if m.id and isinstance(m.string, str) and m.string != m.id and len(m.string) > 3
    ]
    for path in (
        "/en/immunotherapy",
        "/en/privacy",
        "/en/no-such-page",
        "/en/request-appointment",
    ):
        body = own_language_text(client.get(path).get_data(as_text=True))
        found = [text for text in spanish if text.split("%(")[0] in body]
        assert not found, f"{path} shows Spanish: {found}"
