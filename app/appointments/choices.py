"""The answers the form offers to choose from: stored by value, shown by
label. The form (forms.py) asks them in the page's language; the clinic's
email (clinic_email.py) shows the same labels in English."""

from flask_babel import lazy_gettext as _l

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
CALL_LANGUAGES = {
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
# What the patient would like an interpreter for: the call, the visit, both.
INTERPRETER_FOR = {
    "no": _l("No, thank you"),
    "call": _l("Yes, for the phone call"),
    "visit": _l("Yes, for the visit"),
    "both": _l("Yes, for the phone call and the visit"),
}
# What the received page tells the patient happens next, by contact method;
# the clinic's email repeats it.
PROMISES = {
    "call": _l("Someone from the clinic will call you to arrange an appointment."),
    "text": _l(
        "Someone from the clinic will send you a text message to arrange an"
        " appointment."
    ),
    "email": _l("Someone from the clinic will email you to arrange an appointment."),
}
