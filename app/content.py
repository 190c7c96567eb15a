"""The content folder as typed, frozen objects: pydantic models of the YAML.

``load_content`` reads ``site.yaml`` and ``pages/*.yaml``, validates every
file and then the rules between files (English/Spanish parity, unique slugs),
and raises one ContentError listing every problem. Each problem is one line
written for the person editing the YAML::

    pages/immunotherapy.yaml:57: es > section 3 "types-of-immunotherapy"
    > subsection 3 "cytokine-therapy": body: missing

(file, line, the sections by 1-based position and id, the key, what is wrong).
"""

from __future__ import annotations

import datetime
import difflib
import functools
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated
from typing import Any
from typing import Generic
from typing import Literal
from typing import TypeVar

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
from pydantic import with_config
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"
LANGUAGES = ("en", "es")
PRIVACY_PAGE = "privacy"
_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Element ids the page template uses itself; a section id must not take one.
_TEMPLATE_IDS = frozenset({"main", "toc-title", "cta-title", "sources"})


class ContentError(Exception):
    """The content folder is invalid; ``problems`` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


# --- The models: what each YAML file may hold. -----------------------------

T = TypeVar("T")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Ident = Annotated[str, StringConstraints(pattern=_ID_PATTERN)]
# Kept as the editor wrote it (normalised by pydantic), a plain str for templates.
HttpsUrl = Annotated[
    AnyUrl, UrlConstraints(allowed_schemes=["https"], host_required=True)
]


class _Model(BaseModel):
    """Unknown keys are errors (a misspelt key must not vanish); immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@with_config(ConfigDict(extra="forbid"))
class _EnEs(TypedDict, Generic[T]):
    en: T
    es: T


# A value given in both languages, read as a mapping {"en": ..., "es": ...}.
Bilingual = Annotated[_EnEs[T], AfterValidator(MappingProxyType)]


class BulletList(_Model):
    """``- list: [...]`` in a body: a bulleted list."""

    items: tuple[Text, ...] = Field(alias="list", min_length=1)


# Tags name the two kinds of block in pydantic's error locations; the angle
# brackets keep them apart from any key an editor could write.
_PARAGRAPH, _LIST = "<paragraph>", "<list>"
Block = Annotated[
    Annotated[Text, Tag(_PARAGRAPH)] | Annotated[BulletList, Tag(_LIST)],
    Discriminator(lambda value: _LIST if isinstance(value, dict) else _PARAGRAPH),
]
_TAGS = frozenset({_PARAGRAPH, _LIST})


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
    url: Annotated[HttpsUrl, AfterValidator(str)]


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
    slug: Bilingual[Ident]
    en: PageText
    es: PageText


class Page(PageFile):
    """A page file, known by its file name (``id``) as in URLs and links."""

    id: str

    @functools.cached_property
    def slugs(self) -> Mapping[str, str]:
        """The page's URL slug in each language."""
        return self.slug

    @functools.cached_property
    def text(self) -> Mapping[str, PageText]:
        """The page's text in each language."""
        return MappingProxyType({"en": self.en, "es": self.es})


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
        valid = phonenumbers.is_valid_number(number)
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        raise PydanticCustomError(
            "phone", "must be a valid phone number, such as +1 559 555 0100"
        )
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        display=phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.NATIONAL
        ),
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
    privacy_practices_url: (
        Bilingual[Annotated[HttpsUrl, AfterValidator(str)]] | None
    ) = None


# eq=False: compared and hashed by identity, so a cache can be keyed on the
# loaded content and a reload (a new object) starts it afresh.
@dataclass(frozen=True, eq=False)
class Content:
    """Everything in the content folder, loaded and checked."""

    site: Site
    pages: Mapping[str, Page]

    def page_for_slug(self, lang: str, slug: str) -> Page | None:
        """The page whose slug in ``lang`` is ``slug``, if any."""
        for page in self.pages.values():
            if page.slugs.get(lang) == slug:
                return page
        return None


# --- Reading YAML with line numbers. ---------------------------------------

KeyPath = tuple[str | int, ...]


@dataclass
class _Document:
    """One parsed file: its data, and the line where each key or item starts."""

    file: str
    data: Any = None
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of its nearest enclosing key or item."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def problem(self, path: Sequence[str | int], message: str) -> None:
        """Record ``message`` about the key or item at ``path``."""
        self.problems.append((self.line(path) or 0, _where(self, path, message)))


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
                _record_lines(loader, node, (), doc)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        doc.problems.append(_syntax_problem(doc.file, text, error))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        doc.problems.append((0, f"{doc.file}: cannot be read: {_one_line(error)}"))
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
    if error.context and error.problem and error.context_mark:
        if error.context_mark.line + 1 != line:
            started = error.context_mark.line + 1
            message += f" ({error.context} from line {started})"
    lines = text.splitlines()
    if mark and mark.line < len(lines) and "\t" in lines[mark.line]:
        message += "; indent with spaces, not tabs"
    return line, message


def _record_lines(
    loader: yaml.SafeLoader | yaml.CSafeLoader,
    node: yaml.Node,
    path: KeyPath,
    doc: _Document,
    within: frozenset[int] = frozenset(),
) -> None:
    """Walk the node tree: the line of every key and list item under ``path``."""
    if id(node) in within:
        return  # an alias to an enclosing node (&a [*a]): already walked
    within = within | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = loader.construct_object(key_node)
            child = (*path, key)
            if key in seen:
                # PyYAML keeps the last one silently; the editor should know.
                doc.problems.append(
                    (
                        key_node.start_mark.line + 1,
                        f"{doc.file}:{key_node.start_mark.line + 1}: "
                        f"{_context(doc, child) or key}: appears twice; "
                        "the second replaces the first",
                    )
                )
            seen.add(key)
            doc.lines[child] = key_node.start_mark.line + 1
            _record_lines(loader, value_node, child, doc, within)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            doc.lines[(*path, index)] = item.start_mark.line + 1
            _record_lines(loader, item, (*path, index), doc, within)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


# --- Problems in the editor's words. ---------------------------------------

# Lists whose items are named by position (1-based) rather than "item N".
_ITEM_NAMES = {
    "lead": "lead paragraph",
    "body": "body item",
    "list": "list item",
    "sources": "source",
    "locations": "location",
}


def _context(doc: _Document, path: Sequence[str | int]) -> str:
    """``es > section 3 "types" > subsection 2 "vaccines" > heading``."""
    parts: list[str] = []
    value = doc.data
    depth = 0  # how deep in sections: "section", then "subsection"
    keys = list(path)
    for i, step in enumerate(keys):
        container_key = keys[i - 1] if i else None
        if isinstance(step, int) and not parts:
            parts.append(f"item {step + 1}")
        elif isinstance(step, int):
            item = _child(value, step)
            if container_key == "sections":
                name = "sub" * depth + "section"
                depth += 1
                parts[-1] = f"{name} {step + 1}{_quoted_id(item)}"
            elif container_key in _ITEM_NAMES:
                parts[-1] = f"{_ITEM_NAMES[container_key]} {step + 1}"
                if container_key == "locations":
                    parts[-1] += _quoted_id(item)
            else:
                parts[-1] = f"{container_key} item {step + 1}"
        else:
            parts.append(str(step))
        value = _child(value, step)
    return " > ".join(parts)


def _child(value: Any, step: str | int) -> Any:
    if isinstance(step, int) and isinstance(value, list) and step < len(value):
        return value[step]
    if isinstance(value, dict):
        return value.get(step)
    return None


def _quoted_id(item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("id"), str):
        return f' "{item["id"]}"'
    return ""


def _where(doc: _Document, path: Sequence[str | int], message: str) -> str:
    line = doc.line(path)
    place = f"{doc.file}:{line}" if line else doc.file
    context = _context(doc, path)
    return f"{place}: {context}: {message}" if context else f"{place}: {message}"


# Keys an older version of the content used, and their new names.
_RENAMED = {"last_reviewed": "updated"}
_DATE_ERRORS = ("date_type", "date_parsing", "date_from_datetime_parsing")
_MESSAGES = {
    "missing": "missing",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "string_pattern_mismatch": "must be lowercase letters, digits and hyphens, "
    "such as side-effects",
    "too_short": "must not be empty",
    "tuple_type": "must be a list (lines starting with - )",
    "list_type": "must be a list (lines starting with - )",
    "model_type": "must be a group of keys (key: value lines)",
    "model_attributes_type": "must be a group of keys (key: value lines)",
    "dict_type": "must be a group of keys (key: value lines)",
    "url_scheme": "must start with https://",
    "url_parsing": "must be a full address, such as https://www.cancer.gov/",
    "date_from_datetime_inexact": "must be a date such as 2026-11-27",
}


def _validation_problems(
    doc: _Document, model: type[BaseModel], error: ValidationError
) -> None:
    """One problem per mistake; a misspelt key is one line, not two."""
    errors = []
    for item in error.errors():
        path = tuple(step for step in item["loc"] if step not in _TAGS)
        errors.append((path, item))
    # A misspelt required key shows up twice: as unknown and as missing.
    # Report it once, as the unknown key with its suggestion.
    missing = {path for path, item in errors if item["type"] == "missing"}
    suggested: set[KeyPath] = set()
    for path, item in errors:
        if item["type"] == "extra_forbidden":
            suggestion = _suggestion(model, doc.data, path)
            if suggestion and (*path[:-1], suggestion) in missing:
                suggested.add((*path[:-1], suggestion))
    for path, item in errors:
        if path in suggested:
            continue
        doc.problem(path, _message(model, doc, path, item))


def _message(model: type[BaseModel], doc: _Document, path: KeyPath, item) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        suggestion = _suggestion(model, doc.data, path)
        if path[-1] in _RENAMED:
            return f'renamed: write "{suggestion}" instead'
        if suggestion:
            return f'unknown key; did you mean "{suggestion}"?'
        allowed = _allowed_keys(model, doc.data, path[:-1])
        return f"unknown key; expected one of: {', '.join(allowed)}"
    if kind in _DATE_ERRORS:
        return f"must be a date such as 2026-11-27, not {item['input']!r}"
    if kind == "literal_error":
        return f"must be {item['ctx']['expected']}, not {item['input']!r}"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    # Our own checks (PydanticCustomError) already speak the editor's words.
    return item["msg"][0].lower() + item["msg"][1:]


def _suggestion(model: type[BaseModel], data: Any, path: KeyPath) -> str | None:
    """The key the editor probably meant instead of the unknown ``path[-1]``."""
    allowed = _allowed_keys(model, data, path[:-1])
    if path[-1] in _RENAMED and _RENAMED[path[-1]] in allowed:
        return _RENAMED[path[-1]]
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
    return close[0] if close else None


def _allowed_keys(model: type[BaseModel], data: Any, path: KeyPath) -> list[str]:
    """The keys the model allows at ``path`` in ``data``, from its JSON schema."""
    root = _schema(model)
    node, value = root, data
    for step in path:
        node = _resolve(root, node, value)
        if isinstance(step, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(step, {})
        value = _child(value, step)
    return list(_resolve(root, node, value).get("properties", {}))


@functools.cache
def _schema(model: type[BaseModel]) -> dict:
    return model.model_json_schema()


def _resolve(root: dict, node: dict, value: Any) -> dict:
    """Follow $ref, and pick the branch of a union that fits ``value``."""
    while True:
        if "$ref" in node:
            node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node or "oneOf" in node:
            branches = [_resolve(root, b, value) for b in node.get("anyOf", [])]
            branches += [_resolve(root, b, value) for b in node.get("oneOf", [])]
            wanted = "object" if isinstance(value, dict) else "array"
            node = next((b for b in branches if b.get("type") == wanted), {})
        else:
            return node


# --- Loading. ---------------------------------------------------------------


def _validate(doc: _Document, model: type[BaseModel]) -> Any | None:
    """The file's data as ``model``, or None with its problems recorded."""
    if doc.problems and doc.data is None:
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as error:
        _validation_problems(doc, model, error)
        return None


def _load_page(doc: _Document, page_id: str) -> Page | None:
    page_file = _validate(doc, PageFile)
    if not re.match(_ID_PATTERN, page_id):
        doc.problem((), "the file name must be lowercase letters, digits and hyphens")
    if page_file is None or doc.problems:
        return None
    page = Page.model_construct(id=page_id, **dict(page_file))
    for lang in LANGUAGES:
        _check_unique_ids(doc, lang, page.text[lang])
    _check_parity(doc, page.en, page.es)
    return None if doc.problems else page


def _all_sections(text: PageText):
    """Each section and subsection with its path in the file."""
    for i, section in enumerate(text.sections):
        yield ("sections", i), section
        for j, sub in enumerate(section.sections):
            yield ("sections", i, "sections", j), sub


def _check_unique_ids(doc: _Document, lang: str, text: PageText) -> None:
    """Section ids are the targets of "On this page": one element each."""
    first: dict[str, KeyPath] = {}
    for path, section in _all_sections(text):
        where = (lang, *path, "id")
        if section.id in _TEMPLATE_IDS:
            doc.problem(where, f'"{section.id}" is used by the page itself; rename it')
        elif section.id in first:
            other = _context(doc, (lang, *first[section.id]))
            doc.problem(where, f'"{section.id}" is already the id of {other}')
        else:
            first[section.id] = path


def _check_parity(doc: _Document, en: PageText, es: PageText) -> None:
    """The Spanish text has the English text's structure, paragraph for paragraph."""
    if len(en.lead) != len(es.lead):
        doc.problem(
            ("es", "lead"),
            f"{_count(es.lead, 'paragraph')}; en has {_count(en.lead, 'paragraph')}",
        )
    _compare_sections(doc, en.sections, es.sections, ("es",))
    if len(en.sources) != len(es.sources):
        doc.problem(
            ("es", "sources"),
            f"{_count(es.sources, 'source')}; en has {_count(en.sources, 'source')}",
        )


def _count(items: Sequence, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _compare_sections(
    doc: _Document, en: Sequence[Subsection], es: Sequence[Subsection], parent: KeyPath
) -> None:
    en_ids, es_ids = [s.id for s in en], [s.id for s in es]
    noun = "subsection" if len(parent) > 1 else "section"
    if en_ids != es_ids:
        for index, section in enumerate(es):
            if section.id not in en_ids:
                doc.problem((*parent, "sections", index), "is not in en")
        for section_id in en_ids:
            if section_id not in es_ids:
                doc.problem(
                    (*parent, "sections"),
                    f'{noun} "{section_id}" is missing (en has it)',
                )
        if set(en_ids) == set(es_ids):
            doc.problem(
                (*parent, "sections"),
                f"{noun}s are in a different order from en: {', '.join(en_ids)}",
            )
        return
    for index, (a, b) in enumerate(zip(en, es, strict=True)):
        path = (*parent, "sections", index)
        if _blocks(a.body) != _blocks(b.body):
            doc.problem(
                (*path, "body"),
                f"has {_blocks(b.body)}; en has {_blocks(a.body)}",
            )
        _compare_sections(
            doc, getattr(a, "sections", ()), getattr(b, "sections", ()), path
        )


def _blocks(body: Sequence[Any]) -> str:
    """``paragraph, list of 4 items, paragraph``: what must match between languages."""
    return ", ".join(
        f"list of {_count(block.items, 'item')}"
        if isinstance(block, BulletList)
        else "paragraph"
        for block in body
    )


def load_content(directory: str | Path) -> Content:
    """Read ``site.yaml`` and ``pages/*.yaml`` under ``directory``.

    Raises ContentError listing every problem in every file, one line each,
    in file order and, within a file, line order.
    """
    root = Path(directory)
    site_doc = _read_yaml(root / "site.yaml", root)
    site = _validate(site_doc, Site)
    docs = [site_doc]
    pages: dict[str, Page] = {}
    page_docs: dict[str, _Document] = {}
    for path in sorted((root / "pages").glob("*.yaml")):
        doc = _read_yaml(path, root)
        docs.append(doc)
        page = _load_page(doc, path.stem)
        if page is not None:
            pages[page.id] = page
            page_docs[page.id] = doc
    if site is not None and site.home_page not in pages and not _any(docs):
        site_doc.problem(("home_page",), f'no page named "{site.home_page}" in pages/')
    if PRIVACY_PAGE not in pages and not _any(docs):
        site_doc.problems.append(
            (0, f"pages/{PRIVACY_PAGE}.yaml: missing; the appointment form links to it")
        )
    _check_unique_slugs(pages, page_docs)
    problems = [text for doc in docs for _, text in sorted(doc.problems, key=_line)]
    if problems:
        raise ContentError(problems)
    return Content(site=site, pages=MappingProxyType(pages))


def _any(docs: Sequence[_Document]) -> bool:
    return any(doc.problems for doc in docs)


def _line(problem: tuple[int, str]) -> int:
    return problem[0]


def _check_unique_slugs(pages: Mapping[str, Page], docs: Mapping[str, _Document]):
    """Two pages with one slug would share one URL."""
    owner: dict[tuple[str, str], str] = {}
    for page in pages.values():
        for lang, slug in page.slugs.items():
            other = owner.setdefault((lang, slug), page.id)
            if other != page.id:
                docs[page.id].problem(
                    ("slug", lang),
                    f'"{slug}" is already the {lang} slug of pages/{other}.yaml',
                )
