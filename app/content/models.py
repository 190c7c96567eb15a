"""What each content file may hold: pydantic models of the YAML, frozen.

Unknown keys are errors (``extra="forbid"``), so a misspelt key never vanishes;
messages.py puts each error in the editor's words, parity.py holds the rules
between a page's English and Spanish.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from collections.abc import Sized
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated
from typing import Any
from typing import Generic
from typing import Literal
from typing import TypeVar

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

from ..phone_numbers import PhoneNumberError
from ..phone_numbers import parse_phone

LANGUAGES = ("en", "es")
PRIVACY_PAGE = "privacy"
WALLET_CARD_FILE = "wallet-card.yaml"
_ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

# Where a value is in a file: keys and (0-based) list positions.
Loc = tuple[str | int, ...]


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


def _count(items: Sized, noun: str) -> str:
    """``1 paragraph``, ``3 paragraphs``."""
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


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
