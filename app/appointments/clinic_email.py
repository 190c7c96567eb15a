"""The clinic's email: a stored request as the front desk reads it, in
English whatever the page's language.

It reads the stored answers only (the form may have changed since they were
stored), with the choices' labels from choices.py; the form never imports it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import render_template
from flask_babel import force_locale

from ..content import Site
from ..phone_numbers import PhoneNumberError
from ..phone_numbers import parse_phone
from .choices import BEST_TIMES
from .choices import CALL_LANGUAGES
from .choices import CONTACT_METHODS
from .choices import PATIENT_STATUSES
from .choices import REASONS
from .choices import REQUESTERS
from .mailer import setting
from .outbox import QueuedRequest


def build_message(
    request: QueuedRequest, config: Mapping[str, Any], site: Site
) -> EmailMessage:
    """The clinic's email, plain text and HTML. Needs an app context
    (templates). EmailMessage refuses header values with line breaks, a
    second guard after the form's own."""
    payload = request.payload
    with force_locale("en"):
        staff = for_staff(payload, site)
        context = {
            "request": request,
            "lines": staff.lines,
            "message_lines": (staff.message or "").splitlines(),
            "received": _clinic_time(payload["received_at"], config),
        }
        text = render_template("email/request.txt", **context)
        html = render_template("email/request.html", **context)
    message = EmailMessage()
    # Fixed words and the reference, never anything typed: phone
    # notifications and mail logs show subjects.
    flags = "".join(f" [{flag}]" for flag in staff.flags)
    message["Subject"] = f"Appointment request {request.reference}{flags}"
    message["From"] = setting(config, "MAIL_DEFAULT_SENDER")
    message["To"] = ", ".join(setting(config, "CLINIC_INBOX"))
    if staff.reply_to:
        # No display name: the address may be a relative's or an office's.
        message["Reply-To"] = Address(addr_spec=staff.reply_to)
    message["Message-ID"] = request.message_id
    message["Date"] = format_datetime(datetime.fromisoformat(payload["received_at"]))
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def _clinic_time(iso_timestamp: str, config: Mapping[str, Any]) -> str:
    """When the request arrived, in the clinic's own time zone, for staff."""
    zone = ZoneInfo(config.get("CLINIC_TIMEZONE") or "America/Los_Angeles")
    local = datetime.fromisoformat(iso_timestamp).astimezone(zone)
    return local.strftime("%A, %B %-d, %Y, %-I:%M %p %Z")


@dataclass(frozen=True)
class StaffLine:
    """One line of the email: a label, the answer, and a link if it dials."""

    label: str
    text: str
    href: str | None = None


@dataclass(frozen=True)
class ForStaff:
    """A stored request as the clinic's email shows it."""

    lines: list[StaffLine]
    # The person's own words, shown apart from the form's lines.
    message: str | None
    reply_to: str | None
    # Fixed words for the subject; never anything typed.
    flags: list[str]


def for_staff(answers: Mapping[str, Any], site: Site) -> ForStaff:
    """What staff read, in the order they need it. English: call it under
    ``force_locale("en")``, so the choices' labels are the form's own."""
    lines = [
        StaffLine("Patient name", f"{answers['first_name']} {answers['last_name']}"),
        StaffLine("Date of birth", _spelled_date(answers.get("date_of_birth"))),
        StaffLine("Request is for", _requested_for(answers)),
        _phone_line(answers),
        StaffLine("Email", answers.get("email") or "—"),
        StaffLine(
            "Preferred contact", _label(CONTACT_METHODS, answers.get("contact_method"))
        ),
        StaffLine("Best time to reach", _label(BEST_TIMES, answers.get("best_time"))),
        StaffLine("Language for the call", _call_language(answers)),
        StaffLine("Interpreter needed", _interpreter_needed(answers, site)),
        StaffLine(
            "New or returning", _label(PATIENT_STATUSES, answers.get("patient_status"))
        ),
        StaffLine("Reason", _label(REASONS, answers.get("reason"))),
        StaffLine("Referring doctor", answers.get("referring_doctor") or "—"),
    ]
    offices = {location.id: location.name for location in site.locations}
    if answers.get("location"):
        office = offices.get(answers["location"], answers["location"])
        lines.append(StaffLine("Preferred office", office))
    form_language = "Spanish" if answers.get("page_language") == "es" else "English"
    lines.append(StaffLine("Form language", form_language))
    return ForStaff(
        lines=lines,
        message=answers.get("message"),
        reply_to=answers.get("email"),
        flags=_subject_flags(answers, site),
    )


def _phone_line(answers: Mapping[str, Any]) -> StaffLine:
    label = f"Phone ({_whose_phone(answers)})"
    try:
        phone = parse_phone(answers["phone"])
    except PhoneNumberError:
        # Stored before today's checks: still the clinic's to read, never a
        # request stuck in the outbox.
        return StaffLine(label, answers["phone"])
    return StaffLine(label, phone.display, phone.tel)


def _label(options: Mapping[str, Any], value: str | None) -> str:
    return str(options[value]) if value in options else "—"


def _spelled_date(iso_date: str | None) -> str:
    """Spelled out, so no one reads 3/4 as April 3."""
    if not iso_date:
        return "—"
    value = date.fromisoformat(iso_date)
    return f"{value:%B} {value.day}, {value.year}"


def _requester(answers: Mapping[str, Any]) -> str:
    """Who asked for the patient: "Tom Price, son", or the office's name."""
    if answers.get("requester") == "family":
        parts = (answers.get("requester_name"), answers.get("relationship"))
        return ", ".join(part for part in parts if part) or "—"
    return answers.get("office_name") or "—"


def _requested_for(answers: Mapping[str, Any]) -> str:
    """The choice as the form words it, and who asked; "Me" would not say
    who to staff."""
    requester = answers.get("requester")
    if requester in ("family", "office"):
        return f"{_label(REQUESTERS, requester)}: {_requester(answers)}"
    return "the patient themself"


def _whose_phone(answers: Mapping[str, Any]) -> str:
    """Who answers the phone: the receptionist should not have to guess."""
    if answers.get("requester") == "family":
        return _requester(answers)
    if answers.get("requester") == "office":
        return f"{_requester(answers)}, doctor’s office"
    return "the patient"


def _call_language(answers: Mapping[str, Any]) -> str:
    language = _label(CALL_LANGUAGES, answers.get("language"))
    if answers.get("language") == "other" and answers.get("other_language"):
        return f"{language}: {answers['other_language']}"
    return language


def _interpreter_language(answers: Mapping[str, Any], site: Site) -> str | None:
    """The interpreter staff must book, named only from the clinic's list:
    a listed language's name, "other", "" when the patient asked for one with
    the call in English, None when none is needed. A call in another
    language always needs one."""
    if answers.get("language") == "other":
        typed = _comparable(answers.get("other_language") or "")
        for language in site.call_languages:
            if typed in {_comparable(name) for name in (language.name, *language.also)}:
                return language.name
        return "other"
    if not answers.get("interpreter"):
        return None
    return "Spanish" if answers.get("language") == "es" else ""


def _interpreter_needed(answers: Mapping[str, Any], site: Site) -> str:
    language = _interpreter_language(answers, site)
    if language is None:
        return "No"
    return f"Yes ({language})" if language else "Yes"


def _subject_flags(answers: Mapping[str, Any], site: Site) -> list[str]:
    """What staff must arrange before calling: a Spanish speaker, an
    interpreter and its language."""
    flags = ["Spanish"] if answers.get("language") == "es" else []
    language = _interpreter_language(answers, site)
    if language is not None:
        flags.append(f"Interpreter: {language}" if language else "Interpreter")
    return flags


def _comparable(text: str) -> str:
    """Letters and spaces only, without accents or case: "Español." and
    "espanol" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    kept = "".join(
        c if unicodedata.category(c)[0] in "LN" else " "
        for c in decomposed
        if unicodedata.category(c) != "Mn"
    )
    return " ".join(kept.split())
