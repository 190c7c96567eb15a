"""Every pointer inside the repository to a document leads somewhere: relative
Markdown links, and the references comments, messages and docs make in words
("docs/deploy.md, section 3", README "Some heading", docs/x.md#anchor)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_FOLDERS = {"node_modules", "instance", "build", "__pycache__"}
TEXT_SUFFIXES = {
    ".md", ".py", ".yaml", ".yml", ".html", ".txt", ".js", ".css", ".toml",
    ".cfg", ".conf", ".service", ".timer", ".example", ".sh", ".po",
}  # fmt: skip
DOC = r"(?P<doc>README(?:\.md)?|docs/[\w-]+\.md|deploy guide)"
# How the repository names a place in a document, in words.
REFERENCES = [
    re.compile(DOC + r"(?:'s)?,? \(?section (?P<number>\d+)"),
    re.compile(DOC + r"(?:'s)?,? (?:section )?\"(?P<heading>[^\"]+)\""),
    re.compile(DOC + r", (?P<word>[A-Z][a-z]+)\b"),
    re.compile(DOC + r"#(?P<anchor>[\w-]+)"),
]
MARKDOWN_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def text_files() -> list[Path]:
    """The repository's own text files (no virtualenv, caches or builds)."""
    found = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(part.startswith(".") or part in SKIPPED_FOLDERS for part in parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == "Makefile"):
            found.append(path)
    return sorted(found)


def headings(document: Path) -> list[str]:
    """The Markdown headings of ``document``, outside code blocks, as written
    (backticks dropped)."""
    found, in_code = [], False
    for line in document.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"#{1,6} (.+)", line)):
            found.append(match[1].replace("`", "").strip())
    return found


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def document(name: str) -> Path:
    if name in ("README", "README.md"):
        return ROOT / "README.md"
    return ROOT / ("docs/deploy.md" if name == "deploy guide" else name)


def as_prose(text: str) -> str:
    """Lines joined as one text, comment markers dropped, so a reference
    split across comment lines reads whole."""
    return re.sub(r"[ \t]*\n[ \t]*(?:#+|//|\*|\")?[ \t]*", " ", text)


def reference_problem(match: re.Match) -> str | None:
    """What is wrong with one reference in words, if anything."""
    target = document(match["doc"])
    if not target.is_file():
        return f"{match[0]!r}: there is no {target.relative_to(ROOT)}"
    titles = headings(target)
    groups = match.groupdict()
    if groups.get("number"):
        ok = any(title.startswith(f"{groups['number']}. ") for title in titles)
    elif groups.get("heading"):
        wanted = groups["heading"].replace("`", "").strip()
        ok = any(title.startswith(wanted) for title in titles)
    elif groups.get("word"):
        ok = any(groups["word"] in title for title in titles)
    else:
        ok = groups["anchor"] in [anchor(title) for title in titles]
    return None if ok else f"{match[0]!r}: no such heading in {target.name}"


def test_every_reference_in_words_finds_its_document_and_heading():
    problems = []
    for path in text_files():
        if path == Path(__file__).resolve():
            continue
        prose = as_prose(path.read_text(encoding="utf-8", errors="replace"))
        for pattern in REFERENCES:
            for match in pattern.finditer(prose):
                if problem := reference_problem(match):
                    problems.append(f"{path.relative_to(ROOT)}: {problem}")
        for name in re.findall(r"\bdocs/[\w-]+\.md\b", prose):
            if not (ROOT / name).is_file():
                problems.append(f"{path.relative_to(ROOT)}: {name} does not exist")
    assert not problems, "\n".join(problems)


def test_a_document_that_names_its_own_sections_has_them():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        numbers = {title.split(".")[0] for title in headings(path)}
        if not any(number.isdigit() for number in numbers):
            continue  # its headings are not numbered: "section N" is no pointer
        prose = as_prose(path.read_text(encoding="utf-8"))
        cited = set(re.findall(r"(?<![/\w.]md, )\bsections? (\d+)", prose))
        assert cited <= numbers, f"{path.name}: no section {cited - numbers}"


@pytest.mark.parametrize(
    "path",
    [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "content"],
    ids=lambda path: str(path.relative_to(ROOT)),
)
def test_every_relative_markdown_link_leads_to_a_file_and_heading(path):
    documents = sorted(path.glob("*.md")) if path.is_dir() else [path]
    problems = []
    for source in documents:
        for target in MARKDOWN_LINK.findall(source.read_text(encoding="utf-8")):
            if "://" in target or target.startswith(("mailto:", "tel:")):
                continue
            name, _, fragment = target.partition("#")
            linked = (source.parent / name).resolve() if name else source
            if not linked.exists():
                problems.append(f"{source.name}: {target}: no such file")
            elif fragment and fragment not in map(anchor, headings(linked)):
                problems.append(f"{source.name}: {target}: no such heading")
    assert not problems, "\n".join(problems)
