"""What each content file may hold, as frozen pydantic models: Site for
``site.yaml``, PageFile for ``pages/<id>.yaml``, WalletCard for
``wallet-card.yaml``. Unknown keys are errors, so a misspelt key never vanishes.
"""

import datetime
import re
from collections.abc import Mapping
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
from pydantic import PlainValidator
from pydantic import StringConstraints
from pydantic import Tag
from pydantic import UrlConstraints
from pydantic import ValidationError
from pydantic import model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from ..phone_numbers import PhoneNumber
from ..phone_numbers import PhoneNumberError
from ..phone_numbers import parse_phone
from .parity import parity_errors

LANGUAGES = ("en", "es")
WALLET_CARD_FILE = "wallet-card.yaml"
ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

T = TypeVar("T")
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Ident = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
HttpsUrl = Annotated[
    AnyUrl,
    UrlConstraints(allowed_schemes=["https"], host_required=True),
    AfterValidator(str),  # templates want the address as written (normalised)
]


class _EnEs(TypedDict, Generic[T]):
    __pydantic_config__ = ConfigDict(extra="forbid")
    en: T
    es: T


# A value in both languages, read as a mapping {"en": ..., "es": ...}.
Bilingual = Annotated[_EnEs[T], AfterValidator(MappingProxyType)]


def _phone(value: Any) -> PhoneNumber:
    try:
        return parse_phone(str(value))
    except PhoneNumberError:
        raise PydanticCustomError(
            "phone", "must be a valid phone number, such as +1 559 555 0100"
        ) from None


def _plain_words(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z]+( [A-Za-z]+)*", name):
        raise PydanticCustomError(
            "plain_words",
            "must be English letters and spaces only, such as Hmong: it goes"
            " into the subject of the clinic's emails",
        )
    return name


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _InBoth(_Model):
    """A file with an English and a Spanish text (``en``, ``es``)."""

    @model_validator(mode="wrap")
    @classmethod
    def _parity(cls, data: Any, handler: Any) -> Any:
        """parity.py's rules beside pydantic's own checks, so that a problem
        either finds does not hide one the other finds."""
        errors = parity_errors(data)
        try:
            value = handler(data)
        except ValidationError as error:
            # Where pydantic has a problem (in either language), it alone says so.
            said = {e["loc"][1:] for e in error.errors()}
            # Its errors are of built-in types, which from_exception_data rebuilds.
            errors = error.errors() + [e for e in errors if e["loc"][1:] not in said]
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return value

    @property
    def text(self) -> Mapping[str, Any]:
        """The text in each language."""
        return {lang: getattr(self, lang) for lang in LANGUAGES}


class BulletList(_Model):
    items: tuple[Text, ...] = Field(alias="list", min_length=1)


class Alert(BulletList):
    """The signs that need 911 (``emergency``) or a call to the care team
    (``urgent``), in a box that stands out from the text around it."""

    kind: Literal["emergency", "urgent"] = Field(alias="alert")
    title: Text


def _block_kind(value: Any) -> str:
    # The tags appear in pydantic's error locations; angle brackets keep them
    # apart from any key an editor could write, so messages.py drops them.
    if not isinstance(value, dict):
        return "<paragraph>"
    return "<alert>" if "alert" in value else "<list>"


Block = Annotated[
    Annotated[Text, Tag("<paragraph>")]
    | Annotated[BulletList, Tag("<list>")]
    | Annotated[Alert, Tag("<alert>")],
    Discriminator(_block_kind),
]


class Subsection(_Model):
    id: Ident
    heading: Text
    body: tuple[Block, ...] = Field(min_length=1)


class Section(Subsection):
    sections: tuple[Subsection, ...] = Field((), min_length=1)


class Source(_Model):
    title: Text
    url: HttpsUrl


class PageText(_Model):
    title: Text
    description: Text
    lead: tuple[Text, ...]
    sections: tuple[Section, ...] = Field(min_length=1)
    sources: tuple[Source, ...] = ()


class Review(_Model):
    name: Text
    credentials: Text
    date: datetime.date


class PageFile(_InBoth):
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


class Location(_Model):
    """One office; with more than one, the form asks which the patient prefers."""

    id: Ident
    name: Text
    address: Text | None = None


class CallLanguage(_Model):
    """A language the clinic's patients speak, as staff book interpreters for
    it (in English); ``also``: other ways a patient may type it."""

    name: Annotated[Text, AfterValidator(_plain_words)]
    also: tuple[Text, ...] = ()


class Site(_Model):
    # The clinic's identity; a value the clinic has not given yet is null.
    name: Text
    former_name: Text
    home_page: Ident
    phone: Annotated[PhoneNumber, PlainValidator(_phone)] | None
    address: Text | None
    hours: Bilingual[Text] | None
    response_time: Bilingual[Text] | None = None
    locations: tuple[Location, ...] = ()
    privacy_practices_url: Bilingual[HttpsUrl] | None = None
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
    heading: Text
    for_staff: Text
    signs_heading: Text
    signs: tuple[Text, ...] = Field(min_length=1)
    fields: CardFields
    emergency: Text


class CardText(_Model):
    title: Text
    description: Text
    intro: tuple[Text, ...]
    card: CardFace
    sources: tuple[Source, ...] = Field(min_length=1)


class WalletCard(_InBoth):
    updated: datetime.date
    linked_from: Ident
    en: CardText
    es: CardText


@dataclass(frozen=True)
class Content:
    site: Site
    pages: Mapping[str, Page]
    # None when content/wallet-card.yaml is absent: no card page, no links.
    wallet_card: WalletCard | None = None
