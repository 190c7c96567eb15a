"""The appointment-request form: fields, choices and validation.

Labels are questions, in the page's language (``_l`` resolves at render
time). Choice labels are reused in English for the clinic's email, so each
choice list is defined once here.
"""

from __future__ import annotations

import unicodedata

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
# Characters a person can type into a message box; other control characters
# (NUL, escape sequences) only come from scripts.
_MESSAGE_CONTROLS_ALLOWED = {"\n", "\r", "\t"}


def _has_control(value: str, allowed: set[str] = frozenset()) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in value)


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


def required_for_other_language(form: FlaskForm, field: Field) -> None:
    """Staff need to know which language to arrange."""
    if form.language.data == "other" and not (field.data or "").strip():
        raise StopValidation(_l("Tell us which language you prefer."))


def _choices(options: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in options.items()]


def _required(message) -> InputRequired:
    return InputRequired(message=message)


def _at_most(characters: int) -> Length:
    return Length(max=characters, message=_l("Use %(max)d characters or fewer."))


def _optional_line(characters: int) -> list:
    """Validators of an optional one-line answer of at most ``characters``."""
    return [Optional(), single_line, _at_most(characters)]


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

    first_name = StringField(
        _l("What is the patient’s first name?"),
        validators=[
            _required(_l("Enter the patient’s first name.")),
            single_line,
            _at_most(NAME_MAX),
        ],
    )
    last_name = StringField(
        _l("What is the patient’s last name?"),
        validators=[
            _required(_l("Enter the patient’s last name.")),
            single_line,
            _at_most(NAME_MAX),
        ],
    )
    requester = _choice(
        _l("Who is this request for?"),
        REQUESTERS,
        _l("Choose who this request is for."),
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
    referring_doctor = StringField(
        _l("Who is the referring doctor? (optional)"),
        validators=_optional_line(NAME_MAX),
    )
    location = RadioField(
        _l("Which office would you prefer?"),
        validators=[_required(_l("Choose an office."))],
    )
    phone = TelField(
        _l("What phone number should we call?"),
        validators=[
            _required(_l("Enter a phone number.")),
            single_line,
            _at_most(30),
            us_phone_number,
        ],
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
    other_language = StringField(
        _l("Which language?"),
        validators=[required_for_other_language, *_optional_line(50)],
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

    def __init__(self, *args, locations: tuple = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if len(locations) > 1:
            self.location.choices = [
                SelectChoice(loc.id, loc.name) for loc in locations
            ]
        else:
            # One office (or none listed): nothing to choose.
            del self.location

    @property
    def is_bot(self) -> bool:
        """True when the hidden honeypot field was filled in."""
        return bool((self.website.data or "").strip())
