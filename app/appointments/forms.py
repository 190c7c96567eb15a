"""The appointment-request form: fields, choices and validation.

Labels are questions, in the page's language (``_l`` resolves at render
time). Choice labels are reused in English for the clinic's email, so each
choice list is defined once here.
"""

from __future__ import annotations

import unicodedata
from datetime import date

import phonenumbers
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import EmailField
from wtforms import Field
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import StringField
from wtforms import TelField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import StopValidation
from wtforms.validators import ValidationError

CONTACT_METHODS = {
    "call": _l("Phone call"),
    "text": _l("Text message"),
    "email": _l("Email"),
}
BEST_TIMES = {
    "morning": _l("Morning"),
    "afternoon": _l("Afternoon"),
    "any": _l("Any time"),
}
LANGUAGES = {
    "en": _l("English"),
    "es": _l("Spanish"),
    "other": _l("Another language"),
}
REQUESTERS = {
    "self": _l("Me"),
    "family": _l("A family member or friend"),
    "office": _l("A patient of the doctor’s office where I work"),
}
PATIENT_STATUSES = {
    "new": _l("New patient"),
    "returning": _l("Returning patient"),
}
REASONS = {
    "new_diagnosis": _l("A new cancer diagnosis"),
    "second_opinion": _l("A second opinion"),
    "continuing_treatment": _l("Continuing treatment"),
    "immunotherapy_questions": _l("Questions about immunotherapy"),
    "other": _l("Something else"),
}

NAME_MAX = 100
MESSAGE_MAX = 1000
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


def us_phone_number(form: FlaskForm, field: Field) -> None:
    """Parse with phonenumbers (US by default) and keep the E.164 form."""
    try:
        number = phonenumbers.parse(field.data, "US")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _l("Enter a phone number we can call, like (559) 555-0123.")
        )
    field.e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def checked(form: FlaskForm, field: Field) -> None:
    """The box must be ticked: "false" or "off" in the POST is no consent."""
    if field.data is not True:
        raise StopValidation(_l("Confirm that we may contact you."))


def required_for_email_contact(form: FlaskForm, field: Field) -> None:
    """Email is optional, unless it is how the patient wants to be contacted."""
    if form.contact_method.data == "email" and not (field.data or "").strip():
        raise StopValidation(_l("Enter your email address, so we can email you."))


def asked(form: FlaskForm, field: Field) -> None:
    """Validate a follow-up question only when its choice was made.

    Without JavaScript every follow-up is on the page; an answer left in one
    that does not apply is ignored (and not sent), never an error.
    """
    if not form.applies(field.name):
        field.errors[:] = []
        raise StopValidation()


_MISSING_DATE_PARTS = {
    ("month",): _l("The date of birth must include a month."),
    ("day",): _l("The date of birth must include a day."),
    ("year",): _l("The date of birth must include a year."),
    ("month", "day"): _l("The date of birth must include a month and a day."),
    ("month", "year"): _l("The date of birth must include a month and a year."),
    ("day", "year"): _l("The date of birth must include a day and a year."),
}


class DateInputField(Field):
    """GOV.UK's date input: month, day and year as three text inputs.

    Posted as ``<name>-month``, ``<name>-day`` and ``<name>-year``. ``data``
    is a ``date``, or None when all three are empty (the date is optional).
    ``invalid_parts`` names the inputs an error is about, so the page marks
    only those and the error summary leads to the first.
    """

    PARTS = ("month", "day", "year")

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
        try:
            value = date(int(given["year"]), int(given["month"]), int(given["day"]))
        except ValueError:
            self.invalid_parts = self.PARTS
            raise StopValidation(_l("The date of birth must be a real date.")) from None
        if value > date.today():
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


def _choices(options: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in options.items()]


def _required(message) -> InputRequired:
    return InputRequired(message=message)


def _filled(message) -> DataRequired:
    """Required, and more than spaces or invisible characters."""
    return DataRequired(message=message)


def _at_most(characters: int) -> Length:
    return Length(max=characters, message=_l("Use %(max)d characters or fewer."))


def _optional_line(characters: int) -> list:
    """Validators of an optional one-line answer of at most ``characters``."""
    return [Optional(), single_line, _at_most(characters)]


def _line(label, validators: list, **kwargs) -> StringField:
    """A one-line text answer, cleaned of invisible characters (``clean_line``)."""
    return StringField(label, validators=validators, filters=[clean_line], **kwargs)


def _follow_up(label, missing_message, **kwargs) -> StringField:
    """A required one-line answer to a follow-up question (see FOLLOW_UPS)."""
    return _line(
        label,
        [
            asked,
            _filled(missing_message),
            single_line,
            _at_most(NAME_MAX),
        ],
        **kwargs,
    )


def _choice(label, options: dict, missing_message) -> RadioField:
    """A required radio group whose choices are one of the lists above."""
    return RadioField(
        label, choices=_choices(options), validators=[_required(missing_message)]
    )


class AppointmentForm(FlaskForm):
    """What a patient, a relative or a doctor's office tells the clinic.

    Fields are declared in the order the page asks them: the error summary
    lists its errors in this order, and must follow the page.
    """

    first_name = _line(
        _l("What is the patient’s first name?"),
        [
            _filled(_l("Enter the patient’s first name.")),
            single_line,
            _at_most(NAME_MAX),
        ],
    )
    last_name = _line(
        _l("What is the patient’s last name?"),
        [
            _filled(_l("Enter the patient’s last name.")),
            single_line,
            _at_most(NAME_MAX),
        ],
    )
    date_of_birth = DateInputField(
        _l("What is the patient’s date of birth? (optional)"),
        description=_l(
            "It helps us find the patient’s records. For example, 3 27 1958."
        ),
    )
    requester = _choice(
        _l("Who is this request for?"),
        REQUESTERS,
        _l("Choose who this request is for."),
    )
    # Follow-ups of "requester", revealed under the choice they belong to.
    requester_name = _follow_up(
        _l("What is your full name?"),
        _l("Enter your full name."),
    )
    relationship = _follow_up(
        _l("What is your relationship to the patient?"),
        _l("Enter your relationship to the patient."),
        description=_l("For example, daughter, husband or friend."),
    )
    office_name = _follow_up(
        _l("What is the name of the doctor’s office?"),
        _l("Enter the name of the doctor’s office."),
    )
    patient_status = _choice(
        _l("Is the patient new to our clinic?"),
        PATIENT_STATUSES,
        _l("Choose new or returning patient."),
    )
    reason = _choice(
        _l("What is the main reason for the request?"),
        REASONS,
        _l("Choose the main reason for the request."),
    )
    referring_doctor = _line(
        _l("Who is the referring doctor? (optional)"), _optional_line(NAME_MAX)
    )
    location = RadioField(
        _l("Which of our offices would you prefer?"),
        validators=[_required(_l("Choose an office."))],
    )
    phone = TelField(
        _l("What phone number should we call?"),
        validators=[
            _filled(_l("Enter a phone number.")),
            single_line,
            _at_most(30),
            us_phone_number,
        ],
        filters=[clean_line],
    )
    email = EmailField(
        _l("What is your email address? (optional)"),
        description=_l("We only need it if you want us to contact you by email."),
        validators=[
            required_for_email_contact,
            *_optional_line(254),
            Email(
                message=_l("Enter an email address like name@example.com."),
                check_deliverability=False,
                # Accents before the @ (josé@...) cannot go in a Reply-To
                # that every mail server accepts; few providers allow them.
                allow_smtputf8=False,
            ),
        ],
        filters=[clean_line],
    )
    contact_method = _choice(
        _l("How should we contact you?"),
        CONTACT_METHODS,
        _l("Choose how we should contact you."),
    )
    best_time = _choice(
        _l("When is the best time to reach you?"),
        BEST_TIMES,
        _l("Choose the best time to reach you."),
    )
    language = _choice(
        _l("What language do you prefer for the call?"),
        LANGUAGES,
        _l("Choose a language for the call."),
    )
    # Revealed under "Another language".
    other_language = _line(
        _l("Which language?"),
        [
            asked,
            _filled(_l("Tell us which language you prefer.")),
            single_line,
            _at_most(50),
        ],
    )
    interpreter = BooleanField(_l("I would like a medical interpreter."))
    message = TextAreaField(
        _l("Is there anything else we should know? (optional)"),
        description=_l(
            "Please don’t include medical details. "
            "We will talk about them when we call."
        ),
        validators=[
            Optional(),
            plain_text,
            _at_most(MESSAGE_MAX),
        ],
        filters=[clean_message],
    )
    consent = BooleanField(
        _l(
            "It’s OK to contact me in the way I chose. I understand this form is "
            "not for emergencies."
        ),
        validators=[checked],
        # What a script might send for "no"; a browser sends nothing at all.
        false_values=("false", "", "off", "0", "no"),
    )
    # Honeypot: hidden from people (CSS and aria), filled in by naive bots.
    website = StringField(_l("Leave this field empty"))
    # A new random token each time the form is shown (outbox.py): a second
    # POST of the same page is the same request, never a second one.
    submission = HiddenField()

    # The follow-up questions each choice reveals (GOV.UK conditional reveal).
    FOLLOW_UPS = {
        ("requester", "family"): ("requester_name", "relationship"),
        ("requester", "office"): ("office_name",),
        ("language", "other"): ("other_language",),
    }

    def __init__(self, *args, locations: tuple = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if len(locations) > 1:
            self.location.choices = [
                SelectChoice(loc.id, loc.name) for loc in locations
            ]
        else:
            # One office (or none listed): nothing to choose.
            del self.location

    def applies(self, name: str) -> bool:
        """Whether the question ``name`` was asked: always, unless it is a
        follow-up of a choice the person did not make."""
        for (controller, value), follow_ups in self.FOLLOW_UPS.items():
            if name in follow_ups:
                return self[controller].data == value
        return True

    @property
    def is_bot(self) -> bool:
        """True when the hidden honeypot field was filled in."""
        return bool((self.website.data or "").strip())
