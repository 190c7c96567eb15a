"""Load and validate the content folder once, at start-up, into frozen objects.

Every problem is reported as ``file: key: message`` so an editor who broke a
YAML file knows exactly where to look; all problems are collected before
failing so one run shows them all.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import phonenumbers
import yaml

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
LANGUAGES = ("en", "es")
PAGE_KINDS = ("topic", "notice")
PRIVACY_PAGE = "privacy"
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_HTTPS_URL = re.compile(r"^https://[^\s/]+\.[^\s/]+(/\S*)?$")


class ContentError(Exception):
    """The content folder is invalid; ``problems`` lists each ``file: key: why``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class BulletList:
    items: tuple[str, ...]


Block = str | BulletList


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    body: tuple[Block, ...]
    sections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Source:
    """A page the text was written from, listed under "Sources"."""

    title: str
    url: str


@dataclass(frozen=True)
class PageText:
    """One language's text of a page."""

    title: str
    description: str
    lead: tuple[str, ...]
    sections: tuple[Section, ...]
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True)
class Review:
    """A named clinician's medical review; absent until the clinic names one."""

    name: str
    credentials: str
    date: datetime.date


@dataclass(frozen=True)
class Page:
    id: str
    kind: str
    updated: datetime.date
    slugs: Mapping[str, str]
    text: Mapping[str, PageText]
    review: Review | None = None
    effective: datetime.date | None = None


@dataclass(frozen=True)
class Phone:
    e164: str
    display: str


@dataclass(frozen=True)
class Location:
    id: str
    name: str
    address: str | None


@dataclass(frozen=True)
class Site:
    name: str
    former_name: str
    home_page: str
    phone: Phone | None
    address: str | None
    hours: Mapping[str, str] | None
    response_time: Mapping[str, str] | None
    locations: tuple[Location, ...]
    privacy_practices_url: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Content:
    site: Site
    pages: Mapping[str, Page]

    def page_for_slug(self, lang: str, slug: str) -> Page | None:
        """The page whose slug in ``lang`` is ``slug``, if any."""
        for page in self.pages.values():
            if page.slugs.get(lang) == slug:
                return page
        return None


class _Reader:
    """Walks one parsed YAML file, recording problems with their key path."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file = file
        self.problems = problems

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.file}: {key}: {message}")

    def mapping(self, value: Any, key: str, required: set[str], optional=()) -> dict:
        if not isinstance(value, dict):
            self.problem(key or "(top level)", "must be a mapping")
            return {}
        for name in sorted(required - value.keys()):
            self.problem(_join(key, name), "missing")
        for name in sorted(value.keys() - required - set(optional)):
            self.problem(_join(key, str(name)), "unknown key")
        return value

    def text(self, value: Any, key: str, *, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(key, "must be non-empty text")
            return ""
        return value.strip()

    def ident(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not _ID.match(value):
            self.problem(key, "must be lowercase letters, digits and hyphens")
            return ""
        return value

    def texts(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            self.problem(key, "must be a list")
            return ()
        return tuple(self.text(item, f"{key}[{i}]") for i, item in enumerate(value))

    def date(
        self, value: Any, key: str, *, nullable: bool = False
    ) -> datetime.date | None:
        if value is None and nullable:
            return None
        if not isinstance(value, datetime.date):
            self.problem(key, "must be a date such as 2026-11-28")
            return datetime.date.min
        return value

    def https_url(self, value: Any, key: str) -> str:
        text = self.text(value, key)
        if text and not _HTTPS_URL.match(text):
            self.problem(key, "must be an https:// address")
        return text

    def bilingual(self, value: Any, key: str) -> Mapping[str, str] | None:
        """A value given in both languages, or null in both."""
        if value is None:
            return None
        value = self.mapping(value, key, set(LANGUAGES))
        return MappingProxyType(
            {lang: self.text(value.get(lang), _join(key, lang)) for lang in LANGUAGES}
        )


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _read_yaml(path: Path, root: Path, problems: list[str]) -> tuple[Any, _Reader]:
    """Parse one file; on failure record the problem and return ``None``."""
    reader = _Reader(path.relative_to(root).as_posix(), problems)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), reader
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reader.problem("(file)", f"cannot be read: {_one_line(error)}")
        return None, reader


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _blocks(r: _Reader, value: Any, key: str) -> tuple[Block, ...]:
    if not isinstance(value, list) or not value:
        r.problem(key, "must be a non-empty list of paragraphs and lists")
        return ()
    blocks: list[Block] = []
    for i, item in enumerate(value):
        item_key = f"{key}[{i}]"
        if isinstance(item, dict):
            data = r.mapping(item, item_key, {"list"})
            blocks.append(BulletList(r.texts(data.get("list"), f"{item_key}.list")))
        else:
            blocks.append(r.text(item, item_key))
    return tuple(blocks)


def _sections(r: _Reader, value: Any, key: str, *, nested: bool) -> tuple[Section, ...]:
    if not isinstance(value, list) or not value:
        r.problem(key, "must be a non-empty list of sections")
        return ()
    sections = []
    for i, item in enumerate(value):
        item_key = f"{key}[{i}]"
        data = r.mapping(
            item, item_key, {"id", "heading", "body"}, () if nested else ("sections",)
        )
        subsections = ()
        if "sections" in data:
            subsections = _sections(
                r, data["sections"], f"{item_key}.sections", nested=True
            )
        sections.append(
            Section(
                id=r.ident(data.get("id"), f"{item_key}.id"),
                heading=r.text(data.get("heading"), f"{item_key}.heading"),
                body=_blocks(r, data.get("body"), f"{item_key}.body"),
                sections=subsections,
            )
        )
    return tuple(sections)


def _sources(r: _Reader, value: Any, key: str) -> tuple[Source, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        r.problem(key, "must be a list of {title, url}")
        return ()
    sources = []
    for i, item in enumerate(value):
        data = r.mapping(item, f"{key}[{i}]", {"title", "url"})
        sources.append(
            Source(
                title=r.text(data.get("title"), f"{key}[{i}].title"),
                url=r.https_url(data.get("url"), f"{key}[{i}].url"),
            )
        )
    return tuple(sources)


def _page_text(r: _Reader, value: Any, lang: str) -> PageText:
    data = r.mapping(
        value, lang, {"title", "description", "lead", "sections"}, ("sources",)
    )
    return PageText(
        title=r.text(data.get("title"), f"{lang}.title"),
        description=r.text(data.get("description"), f"{lang}.description"),
        lead=r.texts(data.get("lead", []), f"{lang}.lead"),
        sections=_sections(r, data.get("sections"), f"{lang}.sections", nested=False),
        sources=_sources(r, data.get("sources"), f"{lang}.sources"),
    )


def _review(r: _Reader, value: Any) -> Review | None:
    if value is None:
        return None
    data = r.mapping(value, "review", {"name", "credentials", "date"})
    return Review(
        name=r.text(data.get("name"), "review.name"),
        credentials=r.text(data.get("credentials"), "review.credentials"),
        date=r.date(data.get("date"), "review.date"),
    )


def _shape(sections: tuple[Section, ...]) -> list:
    """What must match between languages: ids, order, block types, list lengths."""
    return [
        (
            s.id,
            [len(b.items) if isinstance(b, BulletList) else "p" for b in s.body],
            _shape(s.sections),
        )
        for s in sections
    ]


def _check_parity(r: _Reader, text: Mapping[str, PageText]) -> None:
    en, es = text["en"], text["es"]
    if len(en.lead) != len(es.lead):
        r.problem("es.lead", f"has {len(es.lead)} paragraphs, en has {len(en.lead)}")
    if len(en.sources) != len(es.sources):
        r.problem("es.sources", f"has {len(es.sources)}, en has {len(en.sources)}")
    _compare_sections(r, en.sections, es.sections, "es.sections")


def _compare_sections(r: _Reader, en: tuple, es: tuple, key: str) -> None:
    if [s.id for s in en] != [s.id for s in es]:
        r.problem(key, f"ids {[s.id for s in es]} differ from en {[s.id for s in en]}")
        return
    for i, (a, b) in enumerate(zip(en, es, strict=True)):
        if _shape((a,))[0][1] != _shape((b,))[0][1]:
            r.problem(f"{key}[{i}].body", f"blocks differ from en (section {a.id!r})")
        _compare_sections(r, a.sections, b.sections, f"{key}[{i}].sections")


def _load_page(path: Path, root: Path, problems: list[str]) -> Page | None:
    before = len(problems)
    data, r = _read_yaml(path, root, problems)
    if data is None:
        if len(problems) == before:
            r.problem("(file)", "is empty")
        return None
    data = r.mapping(
        data, "", {"kind", "updated", "slug", *LANGUAGES}, ("review", "effective")
    )
    kind = data.get("kind")
    if kind not in PAGE_KINDS:
        r.problem("kind", f"must be one of {', '.join(PAGE_KINDS)}")
    updated = r.date(data.get("updated"), "updated")
    review = _review(r, data.get("review"))
    effective = r.date(data.get("effective"), "effective", nullable=True)
    slug_data = r.mapping(data.get("slug"), "slug", set(LANGUAGES))
    slugs = {lang: r.ident(slug_data.get(lang), f"slug.{lang}") for lang in LANGUAGES}
    text = {lang: _page_text(r, data.get(lang), lang) for lang in LANGUAGES}
    if len(problems) > before:
        return None
    _check_parity(r, text)
    if len(problems) > before:
        return None
    return Page(
        id=path.stem,
        kind=kind,
        updated=updated,
        slugs=MappingProxyType(slugs),
        text=MappingProxyType(text),
        review=review,
        effective=effective,
    )


def _phone(r: _Reader, value: Any) -> Phone | None:
    if value is None:
        return None
    try:
        number = phonenumbers.parse(str(value), "US")
        if not phonenumbers.is_valid_number(number):
            raise phonenumbers.NumberParseException(1, "not a valid number")
    except phonenumbers.NumberParseException:
        r.problem("phone", "must be a valid phone number, such as +1 559 555 0100")
        return None
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        display=phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.NATIONAL
        ),
    )


def _load_site(path: Path, root: Path, problems: list[str]) -> Site | None:
    data, r = _read_yaml(path, root, problems)
    if data is None:
        return None
    required = {"name", "former_name", "home_page", "phone", "address", "hours"}
    data = r.mapping(
        data, "", required | {"response_time", "locations"}, ("privacy_practices_url",)
    )
    locations = []
    for i, item in enumerate(data.get("locations") or []):
        key = f"locations[{i}]"
        loc = r.mapping(item, key, {"id", "name"}, ("address",))
        locations.append(
            Location(
                id=r.ident(loc.get("id"), f"{key}.id"),
                name=r.text(loc.get("name"), f"{key}.name"),
                address=r.text(loc.get("address"), f"{key}.address", nullable=True),
            )
        )
    return Site(
        name=r.text(data.get("name"), "name"),
        former_name=r.text(data.get("former_name"), "former_name"),
        home_page=r.ident(data.get("home_page"), "home_page"),
        phone=_phone(r, data.get("phone")),
        address=r.text(data.get("address"), "address", nullable=True),
        hours=r.bilingual(data.get("hours"), "hours"),
        response_time=r.bilingual(data.get("response_time"), "response_time"),
        locations=tuple(locations),
        privacy_practices_url=_bilingual_urls(
            r, data.get("privacy_practices_url"), "privacy_practices_url"
        ),
    )


def _bilingual_urls(r: _Reader, value: Any, key: str) -> Mapping[str, str] | None:
    """Null, or an https address in each language."""
    if value is None:
        return None
    value = r.mapping(value, key, set(LANGUAGES))
    return MappingProxyType(
        {lang: r.https_url(value.get(lang), _join(key, lang)) for lang in LANGUAGES}
    )


def load_content(directory: str | Path) -> Content:
    """Read ``site.yaml`` and ``pages/*.yaml`` under ``directory``.

    Raises ContentError listing every problem found, each naming file and key.
    """
    root = Path(directory)
    problems: list[str] = []
    site_path = root / "site.yaml"
    site = _load_site(site_path, root, problems)
    pages: dict[str, Page] = {}
    for path in sorted((root / "pages").glob("*.yaml")):
        page = _load_page(path, root, problems)
        if page is not None:
            pages[page.id] = page
    if site is not None and site.home_page and site.home_page not in pages:
        problems.append(f"site.yaml: home_page: no page named {site.home_page!r}")
    if PRIVACY_PAGE not in pages and not problems:
        problems.append(
            f"pages/{PRIVACY_PAGE}.yaml: (file): missing; the form links to it"
        )
    _check_unique_slugs(pages, problems)
    if problems:
        raise ContentError(problems)
    return Content(site=site, pages=MappingProxyType(pages))


def _check_unique_slugs(pages: Mapping[str, Page], problems: list[str]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for page in pages.values():
        for lang, slug in page.slugs.items():
            other = seen.setdefault((lang, slug), page.id)
            if other != page.id:
                problems.append(
                    f"pages/{page.id}.yaml: slug.{lang}: {slug!r} is taken by {other}"
                )
