"""The appointment-request form: each answer's question, checks and value as
stored declared once, here. Labels are questions, in the page's language
(``_l`` resolves at render time). The clinic's email (clinic_email.py) reads
only the stored answers.
"""

import hashlib
import json
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import Field
from wtforms import HiddenField
from wtforms import RadioField
from wtforms import StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import InputRequired
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import StopValidation

from . import choices
from . import fields

NAME_MAX = 100


def _at_most(characters: int) -> Length:
    return Length(max=characters, message=_l("Use %(max)d characters or fewer."))


def _line(label, first: list, *after, size=NAME_MAX, kind=StringField, **kwargs):
    """A one-line answer, cleaned of invisible characters: the ``first``
    checks (DataRequired takes no answer of spaces alone), then one line of at
    most ``size`` characters, then ``after``."""
    validators = [*first, fields.single_line, _at_most(size), *after]
    return kind(label, validators=validators, filters=[fields.clean_line], **kwargs)


def _choice(label, options: dict, missing_message, **kwargs) -> RadioField:
    """A radio group of one of the lists in choices.py; optional without a
    ``missing_message`` (Optional() also clears WTForms' "Not a valid choice"
    for an empty answer; any other value keeps it)."""
    required = InputRequired(message=missing_message) if missing_message else Optional()
    listed = [SelectChoice(value, label) for value, label in options.items()]
    return RadioField(label, choices=listed, validators=[required], **kwargs)


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


class AppointmentForm(FlaskForm):
    """What a patient, a relative or a doctor's office tells the clinic.

    Fields are declared in the order the page asks them: the error summary
    lists its errors in this order, and must follow the page.
    """

    first_name = _line(
        _l("What is the patient’s first name?"),
        [DataRequired(_l("Enter the patient’s first name."))],
        fields.has_a_letter,
    )
    last_name = _line(
        _l("What is the patient’s last name?"),
        [DataRequired(_l("Enter the patient’s last name."))],
        fields.has_a_letter,
    )
    date_of_birth = fields.DateInputField(
        _l("What is the patient’s date of birth? (optional)"),
        description=_l("It helps us find the patient’s records."),
    )
    requester = _choice(
        _l("Who is this request for?"),
        choices.REQUESTERS,
        _l("Choose who this request is for."),
    )
    # Follow-ups of "requester", revealed under the choice they belong to.
    requester_name = _line(
        _l("What is your full name?"),
        [asked, DataRequired(_l("Enter your full name."))],
        fields.has_a_letter,
    )
    relationship = _line(
        _l("What is your relationship to the patient?"),
        [asked, DataRequired(_l("Enter your relationship to the patient."))],
        description=_l("For example, daughter, husband or friend."),
    )
    office_name = _line(
        _l("What is the name of the doctor’s office?"),
        [asked, DataRequired(_l("Enter the name of the doctor’s office."))],
    )
    patient_status = _choice(
        _l("Is the patient new to our clinic?"),
        choices.PATIENT_STATUSES,
        _l("Choose new or returning patient."),
    )
    reason = _choice(
        _l("What is the main reason for the request?"),
        choices.REASONS,
        _l("Choose the main reason for the request."),
    )
    referring_doctor = _line(
        _l("Who is the referring doctor? (optional)"), [Optional()]
    )
    location = RadioField(
        _l("Which of our offices would you prefer?"),
        validators=[InputRequired(message=_l("Choose an office."))],
    )
    phone = _line(
        _l("What phone number should we call?"),
        [DataRequired(_l("Enter a phone number."))],
        size=40,
        kind=fields.PhoneField,
        description=_l("If it has an extension, add it, like 559-555-0123 x45."),
    )
    email = _line(
        _l("What is your email address? (optional)"),
        [required_for_email_contact, Optional()],
        size=254,
        kind=fields.EmailAddressField,
        description=_l("We only need it if you want us to contact you by email."),
    )
    contact_method = _choice(
        _l("How should we contact you?"),
        choices.CONTACT_METHODS,
        _l("Choose how we should contact you."),
    )
    best_time = _choice(
        _l("When is the best time to reach you?"),
        choices.BEST_TIMES,
        _l("Choose the best time to reach you."),
    )
    language = _choice(
        _l("What language do you prefer for the call?"),
        choices.CALL_LANGUAGES,
        _l("Choose a language for the call."),
    )
    # Revealed under "Another language".
    other_language = _line(
        _l("Which language?"),
        [asked, DataRequired(_l("Tell us which language you prefer."))],
        size=50,
    )
    # Not chosen: none.
    interpreter = _choice(
        _l("Would you like a medical interpreter? (optional)"),
        choices.INTERPRETER_FOR,
        None,
        description=_l(
            "An interpreter can help on our phone call, at the visit, or both."
        ),
    )
    message = TextAreaField(
        _l("Is there anything else we should know? (optional)"),
        description=_l(
            "Please don’t include medical details. "
            "We will talk about them when we call."
        ),
        validators=[Optional(), fields.plain_text, _at_most(1000)],
        filters=[fields.clean_message],
    )
    consent = BooleanField(
        _l(
            "It’s OK to contact me in the way I chose. I understand this form"
            " is not for emergencies."
        ),
        # Ticked, that is: "false" or "off" in the POST is no consent.
        validators=[DataRequired(_l("Confirm that we may contact you."))],
        # What a script might send for "no"; a browser sends nothing at all.
        false_values=("false", "", "off", "0", "no"),
    )
    # A trap for scripts that fill in every input. People never meet it: the
    # page hides it from sight, focus, screen readers and autofill (a name
    # no autofill rule matches); see form.html.
    leave_blank = StringField(_l("Leave this field empty"))
    # A new random token each time the form is shown: a second POST of the
    # same page is the same request, never a second one.
    submission = HiddenField()

    # The form's own machinery: not answers, never stored or sent.
    MACHINERY = frozenset({"csrf_token", "leave_blank", "submission"})
    # The follow-up questions each choice reveals (GOV.UK conditional reveal).
    FOLLOW_UPS = {
        ("requester", "family"): ("requester_name", "relationship"),
        ("requester", "office"): ("office_name",),
        ("language", "other"): ("other_language",),
    }

    def __init__(self, *args, locations: tuple = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if len(locations) > 1:
            self.location.choices = [SelectChoice(o.id, o.name) for o in locations]
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

    def answers(self) -> dict[str, Any]:
        """The validated answers as stored, by field name: the value each field
        parsed (its ``stored``), text stripped, None if empty or not asked."""
        answers = {}
        for field in self:
            if field.name in self.MACHINERY:
                continue
            value = getattr(field, "stored", field.data)
            if isinstance(value, str):
                value = value.strip() or None
            answers[field.name] = value if self.applies(field.name) else None
        return answers

    def submission_key(self, answers: dict[str, Any]) -> str | None:
        """The page's CSRF token (Flask-WTF tied it to this browser's session),
        submission token and answers, hashed (none of them stored): the page
        sent again as it was (a double click, a retry) is a repeat; with other
        answers (the back button, a second child) or from another browser, a
        new request. None without a token: never taken for a repeat."""
        name = self.meta.csrf_field_name
        page_token = self[name].data if name in self else None
        token = self.submission.data
        if not page_token or not token or len(token) > 64:
            return None
        typed = json.dumps(answers, ensure_ascii=False, sort_keys=True, default=str)
        text = f"{page_token}\0{token}\0{typed}"
        return hashlib.sha256(text.encode()).hexdigest()

    @staticmethod
    def example_post() -> dict[str, str]:
        """A POST body (less the CSRF token) this form accepts."""
        return {
            "first_name": "Maria",
            "last_name": "Lopez",
            "requester": "self",
            "patient_status": "new",
            "reason": "second_opinion",
            "referring_doctor": "Dr. Smith",
            "phone": "(559) 555-0123",
            "email": "maria@example.com",
            "contact_method": "call",
            "best_time": "morning",
            "language": "en",
            "message": "Mornings before 10 are best.",
            "consent": "y",
        }
