"""Field kinds and checks the appointment form is built from; none of them
knows the form's questions (forms.py does).

Messages go through ``_l``: they are shown in the page's language.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import get_month_names
from email_validator import EmailNotValidError
from email_validator import validate_email
from flask import current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms import Field
from wtforms import TelField
from wtforms.validators import StopValidation

from ..phone_numbers import PhoneNumber
from ..phone_numbers import PhoneNumberError
from ..phone_numbers import parse_phone

# The oldest year of birth the form accepts; anything earlier is a typo.
OLDEST_BIRTH_YEAR = 1900
# Characters a person can type into a message box; other control characters
# (NUL, escape sequences) only come from scripts.
_MESSAGE_CONTROLS_ALLOWED = {"\n", "\r", "\t"}
# Invisible format characters (U+202E right-to-left override, zero-width
# spaces and joiners, the BOM) can make a name display reversed or hide text.
_FORMAT = "Cf"
# U+2028 and U+2029 are line breaks to anything that renders them.
_SEPARATORS = {"Zl", "Zp"}
# Hangul fillers are letters to Unicode but show as blank space.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def _has_control(value: str, allowed: set[str] = frozenset()) -> bool:
    return any(
        (unicodedata.category(c) == "Cc" and c not in allowed)
        or unicodedata.category(c) in _SEPARATORS
        for c in value
    )


def clean_line(value: str | None) -> str | None:
    """A filter for one-line answers: drop invisible format characters, NFC.

    Removing them changes nothing a person sees; NFC makes "José" typed two
    ways the same text. Line and paragraph separators are left for
    ``single_line`` to refuse, like any other line break.
    """
    if not value:
        return value
    visible = "".join(c for c in value if unicodedata.category(c) != _FORMAT)
    return unicodedata.normalize("NFC", visible)


def clean_message(value: str | None) -> str | None:
    """A filter for the message: line and paragraph separators become plain
    line breaks, invisible format characters go, and the text is NFC."""
    if not value:
        return value
    kept = []
    for character in value:
        category = unicodedata.category(character)
        if category in _SEPARATORS:
            kept.append("\n")
        elif category != _FORMAT:
            kept.append(character)
    return unicodedata.normalize("NFC", "".join(kept))


def single_line(form: FlaskForm, field: Field) -> None:
    """Reject line breaks, NUL and other control characters in one-line fields.

    They have no place in a name or phone number, and a line break is how a
    header injection starts.
    """
    if field.data and _has_control(field.data):
        raise StopValidation(
            _l("Use one line, without line breaks or special characters.")
        )


def plain_text(form: FlaskForm, field: Field) -> None:
    """Allow line breaks in the message, but no other control characters."""
    if field.data and _has_control(field.data, _MESSAGE_CONTROLS_ALLOWED):
        raise StopValidation(_l("Remove the special characters from your message."))


def has_a_letter(form: FlaskForm, field: Field) -> None:
    """A name has at least one visible letter: blank-looking characters
    (U+3164, U+2800) or only dots and digits are no one's name."""
    if not any(
        unicodedata.category(c).startswith("L") and c not in _BLANK_LETTERS
        for c in field.data or ""
    ):
        raise StopValidation(_l("Enter a name with at least one letter."))


class PhoneField(TelField):
    """A phone number the clinic can call; ``number`` is it, parsed once
    validated (see app/phone_numbers.py)."""

    number: PhoneNumber | None = None

    def pre_validate(self, form: FlaskForm) -> None:
        self.number = None

    def post_validate(self, form: FlaskForm, validation_stopped: bool) -> None:
        """Parse once every other check passed; say why a number is refused."""
        if validation_stopped or self.errors:
            return
        try:
            self.number = parse_phone(self.data)
        except PhoneNumberError as error:
            if error.not_callable:
                message = _l(
                    "We cannot call this kind of number (such as a 1-900 number)."
                    " Enter a home, mobile or work number."
                )
            else:
                message = _l("Enter a phone number we can call, like (559) 555-0123.")
            self.errors.append(str(message))


class EmailAddressField(EmailField):
    """An email address; ``address`` is it as every mail server accepts it
    (an accented domain in its xn-- form, so staff can reply), parsed once
    every other check passed. Empty stays None: the address is optional."""

    address: str | None = None

    def __init__(self, label=None, validators=None, *, invalid_message, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.invalid_message = invalid_message

    def pre_validate(self, form: FlaskForm) -> None:
        self.address = None

    def post_validate(self, form: FlaskForm, validation_stopped: bool) -> None:
        if validation_stopped or self.errors or not (self.data or "").strip():
            return
        try:
            # Accents before the @ (josé@...) cannot go in a Reply-To that
            # every mail server accepts; few providers allow them.
            valid = validate_email(
                self.data, check_deliverability=False, allow_smtputf8=False
            )
        except EmailNotValidError:
            self.errors.append(str(self.invalid_message))
            return
        self.address = valid.ascii_email or valid.normalized


def clinic_today() -> date:
    """Today where the clinic is (CLINIC_TIMEZONE), not on the server's clock."""
    zone = ZoneInfo(current_app.config.get("CLINIC_TIMEZONE") or "America/Los_Angeles")
    return datetime.now(zone).date()


# What date() raises for parts that make no date: OverflowError for a part
# too large for a C int (ten digits fit in the inputs).
_NOT_A_DATE = (ValueError, OverflowError)

_MISSING_DATE_PARTS = {
    ("month",): _l("The date of birth must include a month."),
    ("day",): _l("The date of birth must include a day."),
    ("year",): _l("The date of birth must include a year."),
    ("month", "day"): _l("The date of birth must include a month and a day."),
    ("month", "year"): _l("The date of birth must include a month and a year."),
    ("day", "year"): _l("The date of birth must include a day and a year."),
}


class DateInputField(Field):
    """GOV.UK's date input, with the month chosen by name: day and year as
    text inputs, the month a list of month names in the page's language, so
    5 March cannot be read as May 5 (issue 21.2); asked in the order the
    page's language writes a date.

    Posted as ``<name>-month`` (1 to 12), ``<name>-day`` and ``<name>-year``.
    ``data`` is a ``date``, or None when all three are empty (the date is
    optional). ``invalid_parts`` names the inputs an error is about, so the
    page marks only those and the error summary leads to the first.
    """

    PARTS = ("month", "day", "year")
    DAY_FIRST = ("day", "month", "year")

    @property
    def order(self) -> tuple[str, ...]:
        """The parts as the page asks them: "3 de mayo de 1962" in Spanish."""
        return self.DAY_FIRST if str(get_locale()) == "es" else self.PARTS

    @property
    def month_names(self) -> dict[int, str]:
        """January to December in the page's language, as Babel names them."""
        return get_month_names("wide", locale=get_locale())

    @property
    def first_invalid(self) -> str:
        """The part the error summary leads to."""
        return next(
            (part for part in self.order if part in self.invalid_parts),
            self.order[0],
        )

    def __init__(self, label=None, validators=None, **kwargs) -> None:
        super().__init__(label, validators, **kwargs)
        self.parts: dict[str, str] = dict.fromkeys(self.PARTS, "")
        self.invalid_parts: tuple[str, ...] = ()

    def part_id(self, part: str) -> str:
        """The id (and name) of one of the three inputs."""
        return f"{self.id}-{part}"

    def process(self, formdata, data=None, extra_filters=None) -> None:
        self.process_errors = []
        self.data = data if isinstance(data, date) else None
        if formdata is None:
            return
        for part in self.PARTS:
            value = formdata.get(f"{self.name}-{part}", "")
            self.parts[part] = (clean_line(value) or "").strip()[:10]
        self.raw_data = [self.parts[part] for part in self.PARTS]

    def pre_validate(self, form: FlaskForm) -> None:
        """Turn the three parts into a date, or name what is wrong."""
        given = {part: value for part, value in self.parts.items() if value}
        if not given:
            self.data = None
            return
        missing = [part for part in self.PARTS if part not in given]
        if missing:
            self.invalid_parts = tuple(missing)
            raise StopValidation(_MISSING_DATE_PARTS[tuple(missing)])
        # str.isdigit() alone would take digits such as "٣" or "³".
        not_numbers = tuple(
            part
            for part, value in given.items()
            if not (value.isascii() and value.isdigit())
        )
        if not_numbers:
            self.invalid_parts = not_numbers
            raise StopValidation(_l("Enter the date of birth using numbers only."))
        if len(given["year"]) != 4:
            self.invalid_parts = ("year",)
            raise StopValidation(_l("The year must have 4 numbers, like 1958."))
        year, month, day = (int(given[part]) for part in ("year", "month", "day"))
        try:
            value = date(year, month, day)
        except _NOT_A_DATE:
            self.invalid_parts = self.PARTS
            raise StopValidation(_l("The date of birth must be a real date.")) from None
        if value > clinic_today():
            self.invalid_parts = self.PARTS
            raise StopValidation(_l("The date of birth must be today or in the past."))
        if value.year < OLDEST_BIRTH_YEAR:
            self.invalid_parts = ("year",)
            raise StopValidation(
                _l(
                    "The date of birth must be in %(year)d or later.",
                    year=OLDEST_BIRTH_YEAR,
                )
            )
        self.data = value
