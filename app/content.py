"""The content folder as typed, frozen objects: pydantic models of the YAML.

``load_content`` validates ``site.yaml`` and ``pages/*.yaml`` and raises one
ContentError listing every problem, one line each, for the person editing::

    pages/immunotherapy.yaml:57: es > section 3 "types-of-immunotherapy"
    > subsection 3 "cytokine-therapy": body: missing

Pydantic finds the problems; this module only says where they are (file, line,
sections by 1-based position and id) in the editor's words.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType
from typing import Annotated
from typing import Any
from typing import Generic
from typing import Literal
from typing import TypeVar
from typing import get_args
from typing import get_origin

import phonenumbers
import yaml
from pydantic import AfterValidator
from pydantic import AnyUrl
from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Discriminator
from pydantic import Field
from pydantic import StringConstraints
from pydantic import Tag
from pydantic import UrlConstraints
from pydantic import ValidationError
from pydantic import model_validator
from pydantic import with_config
from pydantic_core import InitErrorDetails
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict
from typing_extensions import is_typeddict

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
LANGUAGES = ("en", "es")
PRIVACY_PAGE = "privacy"
_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Element ids the page template uses itself; a section id must not take one.
_TEMPLATE_IDS = frozenset({"main", "toc-title", "cta-title", "sources"})

Loc = tuple[str | int, ...]


class ContentError(Exception):
    """The content folder is invalid; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


# --- The models: what each YAML file may hold. -----------------------------

T = TypeVar("T")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Ident = Annotated[str, StringConstraints(pattern=_ID_PATTERN)]
HttpsUrl = Annotated[
    AnyUrl,
    UrlConstraints(allowed_schemes=["https"], host_required=True),
    AfterValidator(str),  # templates want the address as written (normalised)
]


class _Model(BaseModel):
    """Unknown keys are errors (a misspelt key must not vanish); immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@with_config(ConfigDict(extra="forbid"))
class _EnEs(TypedDict, Generic[T]):
    en: T
    es: T


# A value in both languages, read as a mapping {"en": ..., "es": ...}.
Bilingual = Annotated[_EnEs[T], AfterValidator(MappingProxyType)]


class BulletList(_Model):
    """``- list: [...]`` in a body: a bulleted list."""

    items: tuple[Text, ...] = Field(alias="list", min_length=1)


# The tags appear in pydantic's error locations; angle brackets keep them
# apart from any key an editor could write, so they can be dropped.
_TAGS = ("<paragraph>", "<list>")
Block = Annotated[
    Annotated[Text, Tag(_TAGS[0])] | Annotated[BulletList, Tag(_TAGS[1])],
    Discriminator(lambda value: _TAGS[isinstance(value, dict)]),
]


class Subsection(_Model):
    """A section inside a section: an <h3> and its text."""

    id: Ident
    heading: Text
    body: tuple[Block, ...] = Field(min_length=1)


class Section(Subsection):
    """A top-level section: an <h2>, its text, and optional subsections."""

    sections: tuple[Subsection, ...] = Field((), min_length=1)


class Source(_Model):
    """A page the text is based on, listed under "Sources"."""

    title: Text
    url: HttpsUrl


class PageText(_Model):
    """One language's text of a page."""

    title: Text
    description: Text
    lead: tuple[Text, ...]
    sections: tuple[Section, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = ()


class Review(_Model):
    """Who medically reviewed the page, and when."""

    name: Text
    credentials: Text
    date: datetime.date


class PageFile(_Model):
    """What ``content/pages/<id>.yaml`` holds."""

    kind: Literal["topic", "notice"]
    updated: datetime.date
    review: Review | None = None
    effective: datetime.date | None = None
    slugs: Bilingual[Ident] = Field(alias="slug")
    en: PageText
    es: PageText

    @model_validator(mode="after")
    def _check_ids_and_parity(self) -> PageFile:
        # Raised with their own locations, these read like any other error.
        errors = [_error(*problem) for problem in _duplicate_ids(self)]
        errors += [_error(*problem) for problem in _parity(self)]
        if errors:
            raise ValidationError.from_exception_data("PageFile", errors)
        return self


class Page(PageFile):
    """A page file, known by its file name (``id``) as in URLs and links."""

    id: str

    @property
    def text(self) -> Mapping[str, PageText]:
        """The page's text in each language."""
        return {"en": self.en, "es": self.es}


class Phone(_Model):
    """The clinic's phone: E.164 for tel: links, national format for reading."""

    e164: str
    display: str


def _parse_phone(value: Any) -> Phone | None:
    """Any format phonenumbers understands (US by default), or null."""
    if value is None:
        return None
    try:
        number = phonenumbers.parse(str(value), "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise PydanticCustomError(
            "phone", "must be a valid phone number, such as +1 559 555 0100"
        )
    formats = phonenumbers.PhoneNumberFormat
    return Phone(
        e164=phonenumbers.format_number(number, formats.E164),
        display=phonenumbers.format_number(number, formats.NATIONAL),
    )


class Location(_Model):
    """One office; with more than one, the form asks which the patient prefers."""

    id: Ident
    name: Text
    address: Text | None = None


class Site(_Model):
    """``content/site.yaml``: the clinic's identity. Unknown values are null."""

    name: Text
    former_name: Text
    home_page: Ident
    phone: Annotated[Phone | None, BeforeValidator(_parse_phone)]
    address: Text | None
    hours: Bilingual[Text] | None
    response_time: Bilingual[Text] | None = None
    locations: tuple[Location, ...] = ()
    privacy_practices_url: Bilingual[HttpsUrl] | None = None


# eq=False: compared and hashed by identity, so a cache kept for one loaded
# content starts afresh after a reload (a new object).
@dataclass(frozen=True, eq=False)
class Content:
    """Everything in the content folder, loaded and checked."""

    site: Site
    pages: Mapping[str, Page]


# --- Rules across sections and languages (run by PageFile's validator). ----


def _error(loc: Loc, text: str) -> InitErrorDetails:
    # The text as a value, not the template: braces in it are not fields.
    error = PydanticCustomError("content", "{text}", {"text": text})
    return {"type": error, "loc": loc, "input": None}


def _sections(text: PageText, lang: str) -> Iterator[tuple[Loc, Subsection]]:
    for i, section in enumerate(text.sections):
        yield (lang, "sections", i), section
        for j, sub in enumerate(section.sections):
            yield (lang, "sections", i, "sections", j), sub


def _duplicate_ids(page: PageFile) -> Iterator[tuple[Loc, str]]:
    """Section ids are the targets of "On this page": one element each."""
    for lang in LANGUAGES:
        text = getattr(page, lang)
        first: dict[str, Loc] = {}
        for loc, section in _sections(text, lang):
            if section.id in _TEMPLATE_IDS:
                yield (
                    (*loc, "id"),
                    f'"{section.id}" is used by the page itself; rename it',
                )
            elif section.id in first:
                other = _context(page, first[section.id])
                yield (*loc, "id"), f'"{section.id}" is already the id of {other}'
            else:
                first[section.id] = loc


def _parity(page: PageFile) -> Iterator[tuple[Loc, str]]:
    """The Spanish text has the English structure, paragraph for paragraph."""
    for key, noun in (("lead", "paragraph"), ("sources", "source")):
        en, es = getattr(page.en, key), getattr(page.es, key)
        if len(en) != len(es):
            yield ("es", key), f"{_count(es, noun)}; en has {_count(en, noun)}"
    yield from _compare_sections(page.en.sections, page.es.sections, ("es",))


def _compare_sections(en: tuple, es: tuple, parent: Loc) -> Iterator[tuple[Loc, str]]:
    en_ids, es_ids = [s.id for s in en], [s.id for s in es]
    noun = "subsection" if len(parent) > 1 else "section"
    if en_ids != es_ids:
        for i, section in enumerate(es):
            if section.id not in en_ids:
                yield (*parent, "sections", i), "is not in en"
        for missing in (i for i in en_ids if i not in es_ids):
            yield (*parent, "sections"), f'{noun} "{missing}" is missing (en has it)'
        if set(en_ids) == set(es_ids):
            order = ", ".join(en_ids)
            yield (
                (*parent, "sections"),
                f"{noun}s are in a different order from en: {order}",
            )
        return
    for i, (a, b) in enumerate(zip(en, es, strict=True)):
        loc = (*parent, "sections", i)
        if _shape(a.body) != _shape(b.body):
            yield (*loc, "body"), f"has {_shape(b.body)}; en has {_shape(a.body)}"
        yield from _compare_sections(
            getattr(a, "sections", ()), getattr(b, "sections", ()), loc
        )


def _shape(body: tuple) -> str:
    """``paragraph, list of 4 items``: what must match between languages."""
    return ", ".join(
        f"list of {_count(block.items, 'item')}"
        if isinstance(block, BulletList)
        else "paragraph"
        for block in body
    )


def _count(items: tuple, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


# --- Reading YAML with line numbers. ---------------------------------------


@dataclass
class _Document:
    """One parsed file: its data, the line of each key and item, its problems."""

    file: str
    data: Any = None
    lines: dict[Loc, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)

    def problem(self, loc: Loc, message: str) -> None:
        """Record ``message`` about the key or item at ``loc``."""
        # A missing key has no line of its own: use the line of what holds it.
        near = loc
        while near and near not in self.lines:
            near = near[:-1]
        line = self.lines.get(near, 0)
        place = f"{self.file}:{line}" if line else self.file
        parts = (place, _context(self.data, loc), message)
        self.problems.append((line, ": ".join(filter(None, parts))))

    def validate(self, model: type[BaseModel]) -> Any:
        """The data as ``model``, or None with every problem recorded."""
        if self.data is None:
            return None  # unreadable or empty: already a problem
        try:
            return model.model_validate(self.data)
        except ValidationError as error:
            self._report(model, error.errors())
            return None

    def _report(self, model: type[BaseModel], errors: list) -> None:
        located = [(tuple(s for s in e["loc"] if s not in _TAGS), e) for e in errors]
        guesses = {
            loc: _guess(model, loc)
            for loc, e in located
            if e["type"] == "extra_forbidden"
        }
        # A misspelt required key is also missing: say it once, with the guess.
        meant = {(*loc[:-1], guess) for loc, guess in guesses.items()}
        for loc, e in located:
            if not (e["type"] == "missing" and loc in meant):
                self.problem(loc, _message(model, loc, e, guesses.get(loc)))


# libyaml when PyYAML was built with it: ten times faster, same nodes and marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path, root: Path) -> _Document:
    """Parse one file, keeping line numbers; a syntax error is a problem."""
    doc = _Document(path.relative_to(root).as_posix())
    try:
        text = path.read_text(encoding="utf-8")
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                doc.data = loader.construct_document(node)
                _record_lines(doc, loader, node, (), set())
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        doc.problems.append(_syntax_problem(doc.file, text, error))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = " ".join(str(error).split())
        doc.problems.append((0, f"{doc.file}: cannot be read: {reason}"))
    else:
        if doc.data is None:
            doc.problems.append((1, f"{doc.file}:1: the file is empty"))
    return doc


def _syntax_problem(
    file: str, text: str, error: yaml.MarkedYAMLError
) -> tuple[int, str]:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else 0
    message = f"{file}:{line}: not valid YAML: {error.problem or error.context}"
    started = error.context_mark and error.context_mark.line + 1
    if error.context and error.problem and started and started != line:
        message += f" ({error.context} from line {started})"
    lines = text.splitlines()
    if mark and mark.line < len(lines) and "\t" in lines[mark.line]:
        message += "; indent with spaces, not tabs"
    return line, message


def _record_lines(
    doc: _Document, loader: Any, node: yaml.Node, loc: Loc, seen: set[int]
) -> None:
    """The line of every key and list item under ``loc``; keys given twice."""
    if id(node) in seen:
        return  # an alias (*name) to a node already walked
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = loader.construct_object(key_node)
            child = (*loc, key)
            doc.lines[child] = key_node.start_mark.line + 1
            if key in keys:
                # PyYAML keeps the last one silently; the editor should know.
                doc.problem(child, "appears twice; the second replaces the first")
            keys.add(key)
            _record_lines(doc, loader, value_node, child, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            doc.lines[(*loc, index)] = item.start_mark.line + 1
            _record_lines(doc, loader, item, (*loc, index), seen)


# --- Problems in the editor's words. ---------------------------------------

# Lists whose items are named, by 1-based position, other than "<key> item N".
_ITEM_NAMES = {
    "lead": "lead paragraph",
    "body": "body item",
    "list": "list item",
    "sources": "source",
    "locations": "location",
}
# Keys an older version of the content used, and their new names.
_RENAMED = {"last_reviewed": "updated"}
_NOT_A_LIST = "must be a list (lines starting with - )"
_NOT_KEYS = "must be a group of keys (key: value lines)"
_MESSAGES = {
    "missing": "missing",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
    "string_pattern_mismatch": "must be lowercase letters, digits and hyphens, "
    "such as side-effects",
    "tuple_type": _NOT_A_LIST,
    "list_type": _NOT_A_LIST,
    "model_type": _NOT_KEYS,
    "model_attributes_type": _NOT_KEYS,
    "dict_type": _NOT_KEYS,
    "url_scheme": "must start with https://",
    "url_parsing": "must be a full address, such as https://www.cancer.gov/",
    "date_from_datetime_inexact": "must be a date such as 2026-11-27",
}
_DATE_ERRORS = ("date_type", "date_parsing", "date_from_datetime_parsing")


def _context(data: Any, loc: Loc) -> str:
    """``es > section 3 "types" > subsection 2 "vaccines" > heading``."""
    parts: list[str] = []
    depth = 0  # sections within sections: "section", then "subsection"
    for step in loc:
        data = _child(data, step)
        if not isinstance(step, int):
            parts.append(str(step))
            continue
        key = parts.pop() if parts else ""
        if key == "sections":
            name, depth = "sub" * depth + "section", depth + 1
        else:
            name = _ITEM_NAMES.get(key, f"{key} item".lstrip())
        ident = _child(data, "id")
        named = key in ("sections", "locations") and isinstance(ident, str)
        parts.append(f'{name} {step + 1} "{ident}"' if named else f"{name} {step + 1}")
    return " > ".join(parts)


def _child(value: Any, step: str | int) -> Any:
    """``value[step]`` in YAML data or a model; None where there is none."""
    if isinstance(value, BaseModel) and isinstance(step, str):
        return getattr(value, step, None)
    try:
        return value[step]
    except (LookupError, TypeError):
        return None


def _message(model: type[BaseModel], loc: Loc, error: dict, guess: str | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        if guess and guess == _RENAMED.get(loc[-1]):
            return f'renamed: write "{guess}" instead'
        if guess:
            return f'unknown key; did you mean "{guess}"?'
        return (
            f"unknown key; expected one of: {', '.join(_allowed_keys(model, loc[:-1]))}"
        )
    if kind in _DATE_ERRORS:
        return f"must be a date such as 2026-11-27, not {error['input']!r}"
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}, not {error['input']!r}"
    # Our own checks (PydanticCustomError) already speak the editor's words.
    return _MESSAGES.get(kind) or error["msg"][0].lower() + error["msg"][1:]


def _guess(model: type[BaseModel], loc: Loc) -> str | None:
    """The key the editor probably meant instead of the unknown ``loc[-1]``."""
    allowed = _allowed_keys(model, loc[:-1])
    if _RENAMED.get(loc[-1]) in allowed:
        return _RENAMED[loc[-1]]
    return next(iter(difflib.get_close_matches(str(loc[-1]), allowed, n=1)), None)


def _allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the mapping at ``loc`` may hold, read from the models' types."""
    keys = _keys(model)
    for step in loc:
        if isinstance(step, str):  # list positions: the item type is found already
            keys = _keys(keys.get(step))
    return list(keys)


def _keys(annotation: Any) -> dict[str, Any]:
    """Key -> type, for the first model or TypedDict within ``annotation``."""
    origin = get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return {f.alias or n: f.annotation for n, f in origin.model_fields.items()}
    if is_typeddict(origin):
        return dict.fromkeys(origin.__annotations__)
    for arg in get_args(annotation):
        if keys := _keys(arg):
            return keys
    return {}


# --- Loading. ---------------------------------------------------------------


def load_content(directory: str | Path) -> Content:
    """Read ``site.yaml`` and ``pages/*.yaml`` under ``directory``.

    Raises ContentError listing every problem in every file, one line each,
    in file order and, within a file, line order.
    """
    root = Path(directory)
    site_doc = _read_yaml(root / "site.yaml", root)
    site = site_doc.validate(Site)
    docs = [site_doc]
    pages: dict[str, Page] = {}
    page_docs: dict[str, _Document] = {}
    for path in sorted((root / "pages").glob("*.yaml")):
        doc = _read_yaml(path, root)
        docs.append(doc)
        if not re.match(_ID_PATTERN, path.stem):
            doc.problem(
                (), "the file name must be lowercase letters, digits and hyphens"
            )
        page = doc.validate(PageFile)
        if page is not None and not doc.problems:
            pages[path.stem] = Page.model_construct(id=path.stem, **dict(page))
            page_docs[path.stem] = doc
    if not any(doc.problems for doc in docs):
        if site.home_page not in pages:
            site_doc.problem(
                ("home_page",), f'no page named "{site.home_page}" in pages/'
            )
        if PRIVACY_PAGE not in pages:
            why = "missing; the appointment form links to it"
            site_doc.problems.append((0, f"pages/{PRIVACY_PAGE}.yaml: {why}"))
    # Two pages with one slug would share one URL.
    owners: dict[tuple[str, str], str] = {}
    for page in pages.values():
        for lang, slug in page.slugs.items():
            owner = owners.setdefault((lang, slug), page.id)
            if owner != page.id:
                page_docs[page.id].problem(
                    ("slug", lang),
                    f'"{slug}" is already the {lang} slug of pages/{owner}.yaml',
                )
    problems = [p for doc in docs for _, p in sorted(doc.problems, key=itemgetter(0))]
    if problems:
        raise ContentError(problems)
    return Content(site=site, pages=MappingProxyType(pages))
