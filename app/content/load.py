"""Loading the content folder: every problem in every file in one run, one line
each, in file order and, within a file, line order. ruamel.yaml keeps the line
of every key and list item (``.lc``) and refuses a key given twice."""

import functools
import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.error import YAMLError

from .messages import Loc
from .messages import in_editors_words
from .messages import locate
from .messages import syntax_problem
from .models import ID_PATTERN
from .models import WALLET_CARD_FILE
from .models import Content
from .models import Page
from .models import PageFile
from .models import Site
from .models import WalletCard

PRIVACY_PAGE = "privacy"


class ContentError(Exception):
    """The content folder is invalid; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@functools.lru_cache(maxsize=16)
def _parse(text: str) -> Any:
    """Round-trip mode, so that mappings and lists know their lines. Remembered:
        pure-Python ruamel.yaml takes ~50 ms for the content folder, and every app
        built (tests build hundreds) reads the same files. Safe to share only because
    nothing changes the data once read: validation reads it, never writes."""
    return YAML(typ="rt").load(text)


class Document:
    """A file as read, and its problems: (line, text), 0 for no line."""

    def __init__(self, path: Path, root: Path) -> None:
        """Parse ``path``; a syntax error is a problem, not an exception."""
        self.file = path.relative_to(root).as_posix()
        self.data: Any = None
        self.problems: list[tuple[int, str]] = []
        try:
            text = path.read_text(encoding="utf-8")
            self.data = _parse(text)
        except MarkedYAMLError as error:
            self.problems.append(syntax_problem(self.file, text, error))
        except (OSError, UnicodeDecodeError, YAMLError) as error:
            reason = " ".join(str(error).split())
            self.problems.append((0, f"{self.file}: cannot be read: {reason}"))
        else:
            if self.data is None:
                self.problems.append((1, f"{self.file}:1: the file is empty"))

    def problem(self, loc: Loc, message: str) -> None:
        """Record ``message`` about the key or item at ``loc``."""
        line, where = locate(self.data, loc)
        place = f"{self.file}:{line}" if line else self.file
        self.problems.append((line, ": ".join(filter(None, (place, where, message)))))

    def validate(self, model: type[BaseModel]) -> Any:
        """The data as ``model``; None, with every problem recorded, if any."""
        if self.data is None:
            return None  # unreadable or empty: already a problem
        try:
            return model.model_validate(self.data)
        except ValidationError as error:
            for loc, message in in_editors_words(model, error.errors()):
                self.problem(loc, message)
        return None

    def sorted_problems(self) -> list[str]:
        """The problems' texts in line order."""
        return [text for _, text in sorted(self.problems, key=lambda p: p[0])]


def load_content(directory: str | Path) -> Content:
    """``site.yaml``, ``pages/*.yaml`` and the wallet card; ContentError if
    any file has a problem."""
    root = Path(directory)
    site_doc = Document(root / "site.yaml", root)
    site = site_doc.validate(Site)
    files = sorted((root / "pages").glob("*.yaml"))
    page_docs = {path.stem: Document(path, root) for path in files}
    pages: dict[str, Page] = {}
    for page_id, doc in page_docs.items():
        if not re.match(ID_PATTERN, page_id):
            doc.problem(
                (), "the file name must be lowercase letters, digits and hyphens"
            )
        page = doc.validate(PageFile)
        if not doc.problems:
            pages[page_id] = Page.model_construct(id=page_id, **dict(page))
    card_path = root / WALLET_CARD_FILE
    card_doc = Document(card_path, root) if card_path.exists() else None
    wallet_card = card_doc and card_doc.validate(WalletCard)
    docs = [site_doc, *page_docs.values(), *filter(None, [card_doc])]
    if not any(doc.problems for doc in docs):
        if site.home_page not in pages:
            why = f'no page named "{site.home_page}" in pages/'
            site_doc.problem(("home_page",), why)
        elif wallet_card and wallet_card.linked_from not in {
            s.id
            for section in pages[site.home_page].en.sections
            for s in (section, *section.sections)
        }:
            why = f'no section "{wallet_card.linked_from}" on the home page'
            card_doc.problem(("linked_from",), why)
        if PRIVACY_PAGE not in pages:
            why = "missing; the appointment form links to it"
            site_doc.problems.append((0, f"pages/{PRIVACY_PAGE}.yaml: {why}"))
    owners: dict[tuple[str, str], str] = {}  # one slug, one URL: one page
    for page in pages.values():
        for lang, slug in page.slugs.items():
            owner = owners.setdefault((lang, slug), page.id)
            if owner != page.id:
                why = f'"{slug}" is already the {lang} slug of pages/{owner}.yaml'
                page_docs[page.id].problem(("slug", lang), why)
    if problems := [text for doc in docs for text in doc.sorted_problems()]:
        raise ContentError(problems)
    return Content(site=site, pages=MappingProxyType(pages), wallet_card=wallet_card)
