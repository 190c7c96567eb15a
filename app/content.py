"""The content folder as typed, frozen objects: pydantic models of the YAML.

Pydantic finds every problem; this module says where each is, one line each,
in the words of the person editing the YAML::

    pages/immunotherapy.yaml:57: es > section 3 "types-of-immunotherapy"
    > subsection 3 "cytokine-therapy": body: missing
"""

from __future__ import annotations

import copy
import datetime
import difflib
import functools
import re
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated
from typing import Any
from typing import Generic
from typing import Literal
from typing import TypeVar
from typing import get_args
from typing import get_origin

import yaml
from pydantic import AfterValidator
from pydantic import AnyUrl
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Discriminator
from pydantic import Field
from pydantic import StringConstraints
from pydantic import Tag
from pydantic import UrlConstraints
from pydantic import ValidationError
from pydantic import model_validator
from pydantic import with_config
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict
from typing_extensions import is_typeddict

from .phone_numbers import PhoneNumberError
from .phone_numbers import parse_phone

LANGUAGES = ("en", "es")
PRIVACY_PAGE = "privacy"
WALLET_CARD_FILE = "wallet-card.yaml"
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


class Alert(BulletList):
    """``- alert: emergency`` (or ``urgent``) with a ``title`` and a ``list``:
    the signs that need 911 or a call to the care team, shown as a box that
    stands out from the text around it."""

    kind: Literal["emergency", "urgent"] = Field(alias="alert")
    title: Text


# The tags appear in pydantic's error locations; angle brackets keep them
# apart from any key an editor could write, so they can be dropped.
_PARAGRAPH, _LIST, _ALERT = "<paragraph>", "<list>", "<alert>"
Block = Annotated[
    Annotated[Text, Tag(_PARAGRAPH)]
    | Annotated[BulletList, Tag(_LIST)]
    | Annotated[Alert, Tag(_ALERT)],
    Discriminator(
        lambda value: (
            _PARAGRAPH
            if not isinstance(value, dict)
            else _ALERT
            if "alert" in value
            else _LIST
        )
    ),
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

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> dict[str, str]:
        """Any format phonenumbers understands; US when there is no +code."""
        try:
            number = parse_phone(str(value))
        except PhoneNumberError:
            example = "such as +1 559 555 0100"
            raise PydanticCustomError(
                "phone", f"must be a valid phone number, {example}"
            ) from None
        return {"e164": number.e164, "display": number.display}


class Location(_Model):
    """One office; with more than one, the form asks which the patient prefers."""

    id: Ident
    name: Text
    address: Text | None = None


def _plain_words(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z]+( [A-Za-z]+)*", name):
        raise PydanticCustomError(
            "plain_words",
            "must be English letters and spaces only, such as Hmong: it goes"
            " into the subject of the clinic's emails",
        )
    return name


class CallLanguage(_Model):
    """A language the clinic's patients speak, as staff name it. The name
    goes into email subjects, so it is plain English letters and spaces."""

    name: Annotated[Text, AfterValidator(_plain_words)]
    also: tuple[Text, ...] = ()


class Site(_Model):
    """``content/site.yaml``: the clinic's identity. Unknown values are null."""

    name: Text
    former_name: Text
    home_page: Ident
    phone: Phone | None
    address: Text | None
    hours: Bilingual[Text] | None
    response_time: Bilingual[Text] | None = None
    locations: tuple[Location, ...] = ()
    privacy_practices_url: Bilingual[HttpsUrl] | None = None
    # The languages staff book interpreters for, in English; "also" lists
    # other ways a patient may type one (its own name, its Spanish name).
    call_languages: tuple[CallLanguage, ...] = ()


class CardFields(_Model):
    """The wallet card's write-on lines, each labelled."""

    name: Text
    cancer_type: Text
    medicines: Text
    start_date: Text
    last_dose: Text
    oncologist: Text
    team_phone: Text
    after_hours: Text


class CardFace(_Model):
    """What the printed wallet card says."""

    heading: Text
    for_staff: Text
    signs_heading: Text
    signs: tuple[Text, ...] = Field(min_length=1)
    fields: CardFields
    emergency: Text


class CardText(_Model):
    """One language's text of the wallet card page."""

    title: Text
    description: Text
    intro: tuple[Text, ...]
    card: CardFace
    sources: tuple[Source, ...] = Field(min_length=1)


def _error(loc: Loc, text: str) -> dict[str, Any]:
    """A problem for ValidationError.from_exception_data, located like the rest."""
    # The text goes in as a value: braces in it are not template fields.
    error = PydanticCustomError("content", "{text}", {"text": text})
    return {"type": error, "loc": loc, "input": None}


class WalletCard(_Model):
    """``content/wallet-card.yaml``: the card to print, in both languages."""

    updated: datetime.date
    linked_from: Ident
    en: CardText
    es: CardText

    @model_validator(mode="after")
    def _check_parity(self) -> WalletCard:
        counts = {
            ("es", "card", "signs"): (self.en.card.signs, self.es.card.signs, "sign"),
            ("es", "intro"): (self.en.intro, self.es.intro, "paragraph"),
            ("es", "sources"): (self.en.sources, self.es.sources, "source"),
        }
        errors = [
            _error(loc, f"{_count(es, noun)}; en has {_count(en, noun)}")
            for loc, (en, es, noun) in counts.items()
            if len(en) != len(es)
        ]
        if errors:
            raise ValidationError.from_exception_data("WalletCard", errors)
        return self

    @property
    def text(self) -> Mapping[str, CardText]:
        """The card's text in each language."""
        return {"en": self.en, "es": self.es}


@dataclass(frozen=True)
class Content:
    """Everything in the content folder, loaded and checked."""

    site: Site
    pages: Mapping[str, Page]
    # None when content/wallet-card.yaml is absent: no card page, no links.
    wallet_card: WalletCard | None = None


# --- Rules across sections and languages. ---------------------------------
# They read the YAML data as it is, not the validated page, so they run even
# when a key elsewhere is misspelt: every problem is listed in one run.


def cross_checks(data: Any) -> Iterator[tuple[Loc, str]]:
    """Section ids unique per language, and Spanish matching English."""
    if isinstance(data, dict):
        yield from _duplicate_ids(data)
        yield from _parity(data)


def _items(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(data: dict, lang: str) -> dict:
    text = data.get(lang)
    return text if isinstance(text, dict) else {}


def _sections(text: dict, lang: str) -> Iterator[tuple[Loc, dict]]:
    for i, section in enumerate(_items(text.get("sections"))):
        if isinstance(section, dict):
            yield (lang, "sections", i), section
            for j, sub in enumerate(_items(section.get("sections"))):
                if isinstance(sub, dict):
                    yield (lang, "sections", i, "sections", j), sub


def _duplicate_ids(data: dict) -> Iterator[tuple[Loc, str]]:
    """Section ids are the targets of "On this page": one element each."""
    for lang in LANGUAGES:
        first: dict[str, Loc] = {}
        for loc, section in _sections(_text(data, lang), lang):
            section_id = section.get("id")
            if not isinstance(section_id, str):
                continue  # missing or not text: the schema says so
            if section_id in _TEMPLATE_IDS:
                taken = "is used by the page itself; rename it"
                yield (*loc, "id"), f'"{section_id}" {taken}'
            elif section_id in first:
                other = _context(data, first[section_id])
                yield (*loc, "id"), f'"{section_id}" is already the id of {other}'
            else:
                first[section_id] = loc


def _parity(data: dict) -> Iterator[tuple[Loc, str]]:
    """The Spanish text has the English structure, paragraph for paragraph."""
    en, es = _text(data, "en"), _text(data, "es")
    if not (en and es):
        return  # a language missing altogether: the schema says so
    for key, noun, default in (("lead", "paragraph", None), ("sources", "source", [])):
        en_items, es_items = en.get(key, default), es.get(key, default)
        if not (isinstance(en_items, list) and isinstance(es_items, list)):
            continue  # missing or not a list: the schema says so
        if len(en_items) != len(es_items):
            counts = f"{_count(es_items, noun)}; en has {_count(en_items, noun)}"
            yield ("es", key), counts
    yield from _compare_sections(en.get("sections"), es.get("sections"), ("es",))


def _compare_sections(en: Any, es: Any, parent: Loc) -> Iterator[tuple[Loc, str]]:
    en, es = _items(en), _items(es)
    en_ids, es_ids = _ids(en), _ids(es)
    if en_ids is None or es_ids is None:
        return  # a section without an id: the schema says so
    noun = "subsection" if len(parent) > 1 else "section"
    loc = (*parent, "sections")
    if en_ids != es_ids:
        for i, section_id in enumerate(es_ids):
            if section_id not in en_ids:
                yield (*loc, i), "is not in en"
        for section_id in en_ids:
            if section_id not in es_ids:
                yield loc, f'{noun} "{section_id}" is missing (en has it)'
        if set(en_ids) == set(es_ids):
            yield loc, f"{noun}s are in a different order from en: {', '.join(en_ids)}"
        return
    for i, (a, b) in enumerate(zip(en, es, strict=True)):
        a_shape, b_shape = _shape(a.get("body")), _shape(b.get("body"))
        if a_shape and b_shape and a_shape != b_shape:
            yield (*loc, i, "body"), f"has {b_shape}; en has {a_shape}"
        yield from _compare_sections(a.get("sections"), b.get("sections"), (*loc, i))


def _ids(sections: list) -> list[str] | None:
    """Each section's id, or None when one has none to compare."""
    ids = [s.get("id") if isinstance(s, dict) else None for s in sections]
    return ids if all(isinstance(i, str) for i in ids) else None


def _shape(body: Any) -> str:
    """``paragraph, list of 4 items``: what must match between languages
    ("" when there is no body to compare)."""
    return ", ".join(
        f"{block['alert']} alert of {_count(_items(block.get('list')), 'item')}"
        if isinstance(block, dict) and "alert" in block
        else f"list of {_count(_items(block.get('list')), 'item')}"
        if isinstance(block, dict)
        else "paragraph"
        for block in _items(body)
    )


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


# --- Reading YAML, with the line of every key and item. --------------------

# libyaml when PyYAML was built with it: ten times faster, same nodes and marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class _Document:
    """One file: its data, the line of each key and item, and its problems."""

    file: str
    data: Any = None
    lines: dict[Loc, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)
    # Unknown keys and the known key each was probably meant to be.
    guesses: dict[Loc, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, root: Path) -> _Document:
        """Parse ``path``; a syntax error is a problem, not an exception."""
        doc = cls(path.relative_to(root).as_posix())
        try:
            text = path.read_text(encoding="utf-8")
            loader = _Loader(text)
            try:
                node = loader.get_single_node()
                if node is not None:
                    doc.data = loader.construct_document(node)
                    doc._walk(loader, node, (), set())
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

    def _walk(self, loader: Any, node: yaml.Node, loc: Loc, seen: set[int]) -> None:
        if id(node) in seen:
            return  # an alias (*name) of a node already walked
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys = set()
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = loader.construct_object(key_node)
                    self.lines[(*loc, key)] = key_node.start_mark.line + 1
                    if key in keys:  # PyYAML keeps the last one without a word
                        self.problem(
                            (*loc, key), "appears twice; the second replaces the first"
                        )
                    keys.add(key)
                    self._walk(loader, value_node, (*loc, key), seen)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.lines[(*loc, index)] = item.start_mark.line + 1
                self._walk(loader, item, (*loc, index), seen)

    def problem(self, loc: Loc, message: str) -> None:
        """Record ``message`` about the key or item at ``loc``."""
        near = loc  # a missing key has no line: use the line of what holds it
        while near and near not in self.lines:
            near = near[:-1]
        line = self.lines.get(near, 0)
        place = f"{self.file}:{line}" if line else self.file
        self.problems.append(
            (line, ": ".join(filter(None, (place, _context(self.data, loc), message))))
        )

    def validate(self, model: type[BaseModel]) -> Any:
        """The data as ``model``; None, with every problem recorded, if invalid."""
        if self.data is None:
            return None  # unreadable or empty: already a problem
        try:
            return model.model_validate(self.data)
        except ValidationError as error:
            errors = [(_loc(e), e) for e in error.errors()]
        guesses = {
            loc: _guess(model, loc)
            for loc, e in errors
            if e["type"] == "extra_forbidden"
        }
        self.guesses = {loc: guess for loc, guess in guesses.items() if guess}
        # A misspelt required key is also missing: say it once, with the guess.
        meant = {(*loc[:-1], guess) for loc, guess in guesses.items()}
        for loc, e in errors:
            if not (e["type"] == "missing" and loc in meant):
                self.problem(loc, _message(model, loc, e, guesses.get(loc)))
        return None

    def as_meant(self) -> Any:
        """The data with each misspelt key under the name it was meant to
        have, so the rules across sections see what the editor meant."""
        data = copy.deepcopy(self.data)
        for loc, guess in self.guesses.items():
            parent = functools.reduce(_child, loc[:-1], data)
            if isinstance(parent, dict) and guess not in parent:
                parent[guess] = parent.pop(loc[-1])
        return data


# PyYAML's words -> what to check, and whether the line to name is where the
# trouble began (an open quote, a key with no colon) rather than where PyYAML
# noticed it.
_UNCLOSED_QUOTE = (
    "a quote opened on this line is never closed; close it, or use the other "
    "kind of quote around text that holds one"
)
_YAML_ADVICE = (
    ("quoted scalar", True, _UNCLOSED_QUOTE),
    (
        "could not find expected ':'",
        True,
        "this line needs a colon after its key (key: value), or a quote on it "
        "is not closed",
    ),
    (
        "mapping values are not allowed",
        False,
        "this line has a colon and a space inside a value; put the whole value "
        "in double quotes",
    ),
    ("flow", True, "a [ or { opened on this line is never closed"),
    ("alias", False, "this line has a value starting with * or &; put it in quotes"),
)
_CHECK = "check the quotes, colons and indentation"


def _syntax_problem(
    file: str, text: str, error: yaml.MarkedYAMLError
) -> tuple[int, str]:
    """One line in plain words: where, and what to check there."""
    lines = text.splitlines()
    index, advice = _yaml_advice(error, lines)
    if index < len(lines) and "\t" in lines[index]:
        advice = "this line has a tab; indent with spaces, not tabs"
    line = index + 1
    advice = advice.replace("this line", f"line {line}")
    return line, f"{file}:{line}: not valid YAML: {advice}"


def _yaml_advice(error: yaml.MarkedYAMLError, lines: list[str]) -> tuple[int, str]:
    """The (0-based) line to name, and what to check there."""
    mark = error.problem_mark or error.context_mark
    noticed = mark.line if mark else 0
    began = error.context_mark.line if error.context_mark else noticed
    said = f"{error.problem} {error.context}"
    for words, at_start, advice in _YAML_ADVICE:
        if words in said:
            return (began if at_start else noticed), advice
    for index in range(began, min(noticed + 1, len(lines))):
        if lines[index].count('"') % 2:  # closed by a quote on a later line
            return index, _UNCLOSED_QUOTE
    if began < noticed:
        return noticed, (
            f"this line does not line up with the lines above it (from line "
            f"{began + 1}); {_CHECK} on this line and the one before"
        )
    return noticed, f"{_CHECK} on this line"


# --- Pydantic's errors in the editor's words. ------------------------------

# List items named by 1-based position; others are "<key> item N".
_ITEM_NAMES = {
    "lead": "lead paragraph",
    "body": "body item",
    "list": "list item",
    "sources": "source",
    "locations": "location",
}
_RENAMED = {"last_reviewed": "updated"}  # keys of older content: their new names
_NOT_LIST = "must be a list (lines starting with - )"
_NOT_KEYS = "must be a group of keys (key: value lines)"
_MESSAGES = {
    "missing": "missing",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
    "string_pattern_mismatch": "must be lowercase letters, digits and hyphens, "
    "such as side-effects",
    "tuple_type": _NOT_LIST,
    "model_type": _NOT_KEYS,
    "dict_type": _NOT_KEYS,
    "url_scheme": "must start with https://",
    "url_parsing": "must be a full address, such as https://www.cancer.gov/",
    "date_from_datetime_inexact": "must be a date such as 2026-11-27",
}
_DATE_ERRORS = ("date_type", "date_parsing", "date_from_datetime_parsing")


def _loc(error: dict) -> Loc:
    return tuple(
        step for step in error["loc"] if step not in (_PARAGRAPH, _LIST, _ALERT)
    )


def _context(data: Any, loc: Loc) -> str:
    """``es > section 3 "types" > subsection 2 "vaccines" > heading``."""
    parts: list[str] = []
    sub = ""  # sections within sections are subsections
    for step in loc:
        data = _child(data, step)
        if type(step) is not int:  # a key (bool is an int, but a key here)
            parts.append(str(step))
            continue
        key = parts.pop() if parts else ""
        if key == "sections":
            name, sub = f"{sub}section", "sub"
        else:
            name = _ITEM_NAMES.get(key, f"{key} item".lstrip())
        ident = _child(data, "id") if key in ("sections", "locations") else None
        parts.append(
            f"{name} {step + 1}" + (f' "{ident}"' if isinstance(ident, str) else "")
        )
    return " > ".join(parts)


def _child(value: Any, step: str | int) -> Any:
    """``value[step]`` in YAML data or in a model; None where there is none."""
    if isinstance(value, BaseModel) and isinstance(step, str):
        return getattr(value, step, None)
    try:
        return value[step]
    except (LookupError, TypeError):
        return None


def _message(model: type[BaseModel], loc: Loc, error: dict, guess: str | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden" and guess and guess == _RENAMED.get(loc[-1]):
        return f'renamed: write "{guess}" instead'
    if kind == "extra_forbidden" and guess:
        return f'unknown key; did you mean "{guess}"?'
    if kind == "extra_forbidden":
        return f"unknown key; expected one of: {', '.join(_keys(model, loc[:-1]))}"
    if kind in _DATE_ERRORS:
        return f"must be a date such as 2026-11-27, not {error['input']!r}"
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}, not {error['input']!r}"
    # Our own checks (PydanticCustomError) already speak the editor's words.
    return _MESSAGES.get(kind) or error["msg"][0].lower() + error["msg"][1:]


def _guess(model: type[BaseModel], loc: Loc) -> str | None:
    """The key the editor probably meant instead of the unknown ``loc[-1]``."""
    allowed = _keys(model, loc[:-1])
    if _RENAMED.get(loc[-1]) in allowed:
        return _RENAMED[loc[-1]]
    return next(iter(difflib.get_close_matches(str(loc[-1]), allowed, n=1)), None)


def _keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the mapping at ``loc`` may hold, from the models' field types."""
    fields = _fields(model)
    for step in loc:
        if isinstance(step, str):  # at a list position, the item's fields are found
            fields = _fields(fields.get(step))
    return list(fields)


def _fields(annotation: Any) -> dict[str, Any]:
    """Key -> type of the first model or TypedDict within ``annotation``."""
    origin = get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return {f.alias or n: f.annotation for n, f in origin.model_fields.items()}
    if is_typeddict(origin):
        return dict.fromkeys(origin.__annotations__)
    return next(filter(None, map(_fields, get_args(annotation))), {})


# --- Loading. ---------------------------------------------------------------


def load_content(directory: str | Path) -> Content:
    """Read ``site.yaml`` and ``pages/*.yaml`` under ``directory``.

    Raises ContentError listing every problem in every file, one line each,
    in file order and, within a file, line order.
    """
    root = Path(directory)
    site_doc = _Document.read(root / "site.yaml", root)
    site = site_doc.validate(Site)
    files = sorted((root / "pages").glob("*.yaml"))
    page_docs = {path.stem: _Document.read(path, root) for path in files}
    pages: dict[str, Page] = {}
    for page_id, doc in page_docs.items():
        if not re.match(_ID_PATTERN, page_id):
            doc.problem(
                (), "the file name must be lowercase letters, digits and hyphens"
            )
        page = doc.validate(PageFile)
        for loc, message in cross_checks(doc.as_meant()):
            doc.problem(loc, message)
        if page is not None and not doc.problems:
            pages[page_id] = Page.model_construct(id=page_id, **dict(page))
    card_path = root / WALLET_CARD_FILE
    card_doc = _Document.read(card_path, root) if card_path.exists() else None
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
    by_line = [sorted(doc.problems, key=lambda problem: problem[0]) for doc in docs]
    if problems := [text for problems in by_line for _, text in problems]:
        raise ContentError(problems)
    if wallet_card and wallet_card.linked_from not in _section_ids(
        pages[site.home_page]
    ):
        why = f'no section "{wallet_card.linked_from}" on the home page'
        card_doc.problem(("linked_from",), why)
        raise ContentError([text for _, text in card_doc.problems])
    return Content(site=site, pages=MappingProxyType(pages), wallet_card=wallet_card)


# --- Launch: what the clinic must still give or review. ---------------------

# The marker of a content/CHANGES.md list item no clinician has reviewed yet
# (CHANGES.md explains it; a reviewed item says "**Reviewed by ...**").
AWAITING_REVIEW = "**For clinician review.**"
_LIST_ITEM = re.compile(r"^\s*[-*] (?P<text>.*)$")
# The clinic facts a launch needs, and what each one is for.
_LAUNCH_FACTS = {
    "phone": "the number every page gives for calls",
    "hours": "the office hours",
    "response_time": "how soon staff call back after a request, in en and es",
    "privacy_practices_url": "the Notice of Privacy Practices, in en and es",
}


def launch_problems(content: Content, directory: str | Path) -> list[str]:
    """One line per clinic fact still missing from ``site.yaml``, topic page
    without a named medical reviewer, and CHANGES.md item still awaiting
    clinician review; empty when the site is ready to launch."""
    root = Path(directory)
    site_doc = _Document.read(root / "site.yaml", root)
    for key, what in _LAUNCH_FACTS.items():
        if getattr(content.site, key) is None:
            site_doc.problem((key,), f"not set: {what}")
    problems = [text for _, text in site_doc.problems]
    for page in content.pages.values():
        if page.kind == "topic" and page.review is None:
            doc = _Document.read(root / "pages" / f"{page.id}.yaml", root)
            doc.problem(("review",), "no medical reviewer named yet")
            problems += [text for _, text in doc.problems]
    return problems + _awaiting_review(root / "CHANGES.md")


def _awaiting_review(changes: Path) -> list[str]:
    try:
        lines = changes.read_text(encoding="utf-8").splitlines()
    except OSError:
        return [f"{changes.name}: missing; it lists the changes to review"]
    problems = []
    for number, line in enumerate(lines, start=1):
        item = _LIST_ITEM.match(line)
        if item and AWAITING_REVIEW in line:
            words = item["text"].replace(AWAITING_REVIEW, "").strip()
            excerpt = words if len(words) <= 72 else words[:71].rstrip() + "…"
            problems.append(
                f"{changes.name}:{number}: awaiting clinician review: {excerpt}"
            )
    return problems


def _section_ids(page: Page) -> set[str]:
    return {s.id for section in page.en.sections for s in (section, *section.sections)}
