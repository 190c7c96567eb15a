"""Loading the content folder: every file checked, then the rules between files.

Every problem in every file is listed in one run, one line each, in file order
and, within a file, line order.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType

from .documents import Document
from .models import _ID_PATTERN
from .models import PRIVACY_PAGE
from .models import WALLET_CARD_FILE
from .models import Content
from .models import Page
from .models import PageFile
from .models import Site
from .models import WalletCard
from .parity import parity_errors


class ContentError(Exception):
    """The content folder is invalid; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_content(directory: str | Path) -> Content:
    """Read ``site.yaml``, ``pages/*.yaml`` and the wallet card under ``directory``.

    Raises ContentError listing every problem in every file.
    """
    root = Path(directory)
    site_doc = Document.read(root / "site.yaml", root)
    site = site_doc.validate(Site)
    files = sorted((root / "pages").glob("*.yaml"))
    page_docs = {path.stem: Document.read(path, root) for path in files}
    pages: dict[str, Page] = {}
    for page_id, doc in page_docs.items():
        if not re.match(_ID_PATTERN, page_id):
            doc.problem(
                (), "the file name must be lowercase letters, digits and hyphens"
            )
        page = doc.validate(PageFile, parity_errors)
        if page is not None and not doc.problems:
            pages[page_id] = Page.model_construct(id=page_id, **dict(page))
    card_path = root / WALLET_CARD_FILE
    card_doc = Document.read(card_path, root) if card_path.exists() else None
    wallet_card = card_doc.validate(WalletCard) if card_doc else None
    docs = [site_doc, *page_docs.values(), *filter(None, [card_doc])]
    if not any(doc.problems for doc in docs):
        if site.home_page not in pages:
            site_doc.problem(
                ("home_page",), f'no page named "{site.home_page}" in pages/'
            )
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
    if wallet_card and wallet_card.linked_from not in _section_ids(
        pages[site.home_page]
    ):
        why = f'no section "{wallet_card.linked_from}" on the home page'
        card_doc.problem(("linked_from",), why)
        raise ContentError(card_doc.sorted_problems())
    return Content(site=site, pages=MappingProxyType(pages), wallet_card=wallet_card)


def _section_ids(page: Page) -> set[str]:
    return {s.id for section in page.en.sections for s in (section, *section.sections)}
