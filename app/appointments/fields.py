"""Field kinds and checks the appointment form is built from; none of them
knows the form's questions (forms.py does). A kind that parses its answer
keeps the parsed value, and gives it as stored in ``stored``.
"""

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
# U+2028 and U+2029 are line breaks to anything that renders them.
_SEPARATORS = ("Zl", "Zp")
# Hangul fillers are letters to Unicode but show as blank space.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def clean_line(value: str | None, separators_to: str | None = None) -> str | None:
    """A filter: drop format characters (U+202E, zero-width spaces, the BOM:
    they reverse or hide text, and no one sees them go), then NFC, so "José"
    typed two ways is one text. Line and paragraph separators become
    ``separators_to``, or stay for ``single_line`` to refuse."""
    if not value:
        return value
    kept = (
        separators_to if separators_to and category in _SEPARATORS else character
        for character in value
        if (category := unicodedata.category(character)) != "Cf"
    )
    return unicodedata.normalize("NFC", "".join(kept))


def clean_message(value: str | None) -> str | None:
    """``clean_line`` for the message, whose separators become line breaks."""
    return clean_line(value, "\n")


def _refuse_controls(message, allowed: str = ""):
    """A check refusing control characters but ``allowed``, and separators."""

    def check(form: FlaskForm, field: Field) -> None:
        if any(
            unicodedata.category(c) in ("Cc", *_SEPARATORS) and c not in allowed
            for c in field.data or ""
        ):
            raise StopValidation(message)

    return check


# A line break has no place in a name or phone number, and is how a header
# injection starts; NUL and other control characters only come from scripts.
single_line = _refuse_controls(
    _l("Use one line, without line breaks or special characters.")
)
# Line breaks and tabs are all a person can type into a message box.
plain_text = _refuse_controls(
    _l("Remove the special characters from your message."), "\n\r\t"
)


def has_a_letter(form: FlaskForm, field: Field) -> None:
    """A name has at least one visible letter: blank-looking characters
    (U+3164, U+2800) or only dots and digits are no one's name."""
    if not any(
        unicodedata.category(c).startswith("L") and c not in _BLANK_LETTERS
        for c in field.data or ""
    ):
        raise StopValidation(_l("Enter a name with at least one letter."))


class PhoneField(TelField):
    """A phone number the clinic can call: ``number``, parsed once every other
    check passed."""

    number: PhoneNumber | None = None

    @property
    def stored(self) -> str | None:
        return self.number.canonical if self.number else None

    def post_validate(self, form: FlaskForm, validation_stopped: bool) -> None:
        self.number = None
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
    """An optional email address; ``stored`` is it as every mail server
    accepts it (an accented domain in its xn-- form, so staff can reply),
    parsed once every other check passed; None when empty."""

    stored: str | None = None

    def post_validate(self, form: FlaskForm, validation_stopped: bool) -> None:
        self.stored = None
        if validation_stopped or self.errors or not (self.data or "").strip():
            return
        try:
            # Accents before the @ (josé@...) cannot go in a Reply-To that
            # every mail server accepts; few providers allow them.
            valid = validate_email(
                self.data, check_deliverability=False, allow_smtputf8=False
            )
        except EmailNotValidError:
            self.errors.append(str(_l("Enter an email address like name@example.com.")))
            return
        self.stored = valid.ascii_email or valid.normalized


def clinic_today() -> date:
    """Today where the clinic is (CLINIC_TIMEZONE), not on the server's clock."""
    zone = ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    return datetime.now(zone).date()


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
    invalid_parts: tuple[str, ...] = ()

    @property
    def order(self) -> tuple[str, ...]:
        """The parts as the page asks them: "3 de mayo de 1962" in Spanish."""
        return ("day", "month", "year") if str(get_locale()) == "es" else self.PARTS

    @property
    def month_names(self) -> dict[int, str]:
        """January to December in the page's language, as Babel names them."""
        return get_month_names("wide", locale=get_locale())

    @property
    def first_invalid(self) -> str:
        """The part the error summary leads to."""
        return next((p for p in self.order if p in self.invalid_parts), self.order[0])

    @property
    def stored(self) -> str | None:
        return self.data.isoformat() if self.data else None

    def part_id(self, part: str) -> str:
        """The id (and name) of one of the three inputs."""
        return f"{self.id}-{part}"

    def process(self, formdata, data=None, extra_filters=None) -> None:
        self.process_errors = []
        self.data = data if isinstance(data, date) else None
        typed = formdata or {}
        self.parts = {
            part: (clean_line(typed.get(f"{self.name}-{part}")) or "").strip()[:10]
            for part in self.PARTS
        }

    def pre_validate(self, form: FlaskForm) -> None:
        """Turn the three parts into a date, or name what is wrong."""
        self.data, self.invalid_parts = None, ()
        given = {part: value for part, value in self.parts.items() if value}
        if not given:
            return
        missing = tuple(part for part in self.PARTS if part not in given)
        # str.isdigit() alone would take digits such as "٣" or "³".
        not_numbers = tuple(
            part
            for part, value in given.items()
            if not value.isascii() or not value.isdigit()
        )
        if missing:
            self.invalid_parts = missing
            raise StopValidation(_MISSING_DATE_PARTS[missing])
        if not_numbers:
            self.invalid_parts = not_numbers
            raise StopValidation(_l("Enter the date of birth using numbers only."))
        if len(given["year"]) != 4:
            self.invalid_parts = ("year",)
            raise StopValidation(_l("The year must have 4 numbers, like 1958."))
        try:
            value = date(int(given["year"]), int(given["month"]), int(given["day"]))
        except (ValueError, OverflowError):  # OverflowError: too large for a C int
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
