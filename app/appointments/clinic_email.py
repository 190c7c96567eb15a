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

from babel.dates import format_date
from flask import render_template
from flask_babel import force_locale

from ..content import Site
from ..phone_numbers import PhoneNumberError
from ..phone_numbers import parse_phone
from .choices import BEST_TIMES
from .choices import CALL_LANGUAGES
from .choices import CONTACT_METHODS
from .choices import PATIENT_STATUSES
from .choices import PROMISES
from .choices import REASONS
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
            "blocks": staff.blocks,
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
class Block:
    """A labelled block of the email: the patient, the person to call..."""

    heading: str
    lines: list[StaffLine]


@dataclass(frozen=True)
class ForStaff:
    """A stored request as the clinic's email shows it."""

    blocks: list[Block]
    # The person's own words, shown apart from the form's lines.
    message: str | None
    reply_to: str | None
    # Fixed words for the subject; never anything typed.
    flags: list[str]

    @property
    def lines(self) -> list[StaffLine]:
        """Every line of every block, in order."""
        return [line for block in self.blocks for line in block.lines]


def for_staff(answers: Mapping[str, Any], site: Site) -> ForStaff:
    """What staff read, in the order they need it: the patient, then the
    person to call (who may not be the patient), then the request. English:
    call it under ``force_locale("en")``, so the choices' labels are the
    form's own."""
    patient = [
        StaffLine("Patient name", f"{answers['first_name']} {answers['last_name']}"),
        StaffLine("Date of birth", _spelled_date(answers.get("date_of_birth"))),
        StaffLine(
            "New or returning", _label(PATIENT_STATUSES, answers.get("patient_status"))
        ),
    ]
    caller = [
        *_who_to_call(answers),
        _phone_line(answers),
        StaffLine("Email", answers.get("email") or "—"),
        StaffLine(
            "Preferred contact", _label(CONTACT_METHODS, answers.get("contact_method"))
        ),
        StaffLine("Best time to reach", _label(BEST_TIMES, answers.get("best_time"))),
        StaffLine("Language for the call", _call_language(answers)),
    ]
    request = [
        StaffLine("Interpreter", _interpreter_needed(answers, site)),
        StaffLine("Reason", _label(REASONS, answers.get("reason"))),
        StaffLine("Referring doctor", answers.get("referring_doctor") or "—"),
    ]
    offices = {location.id: location.name for location in site.locations}
    if answers.get("location"):
        office = offices.get(answers["location"], answers["location"])
        request.append(StaffLine("Preferred office", office))
    form_language = "Spanish" if answers.get("page_language") == "es" else "English"
    request.append(StaffLine("Form language", form_language))
    request.append(StaffLine("Told on the received page", _promise(answers, site)))
    return ForStaff(
        blocks=[
            Block("Patient", patient),
            Block("Person to call", caller),
            Block("Request", request),
        ],
        message=answers.get("message"),
        reply_to=answers.get("email"),
        flags=_subject_flags(answers, site),
    )


def _who_to_call(answers: Mapping[str, Any]) -> list[StaffLine]:
    """Who answers the phone, so the receptionist need not guess."""
    requester = answers.get("requester")
    if requester == "family":
        return [
            StaffLine("Name", answers.get("requester_name") or "—"),
            StaffLine(
                "Relationship to the patient", answers.get("relationship") or "—"
            ),
        ]
    if requester == "office":
        return [
            StaffLine("Name", answers.get("office_name") or "—"),
            StaffLine("Relationship to the patient", "the patient’s doctor’s office"),
        ]
    return [StaffLine("Name", "the patient")]


def _promise(answers: Mapping[str, Any], site: Site) -> str:
    """What the received page told the patient (in their language; here in
    English): who gets in touch how, and when, if the clinic says."""
    promise = str(PROMISES.get(answers.get("contact_method"), PROMISES["call"]))
    if site.response_time:
        promise = f"{promise} {site.response_time['en']}"
    return promise


def _phone_line(answers: Mapping[str, Any]) -> StaffLine:
    """The number, parsed once per email from the stored one."""
    try:
        phone = parse_phone(answers["phone"])
    except PhoneNumberError:
        # Stored before today's checks: still the clinic's to read, never a
        # request stuck in the outbox.
        return StaffLine("Phone", answers["phone"])
    return StaffLine("Phone", phone.display, phone.tel)


def _label(options: Mapping[str, Any], value: str | None) -> str:
    return str(options[value]) if value in options else "—"


def _spelled_date(iso_date: str | None) -> str:
    """Spelled out, so no one reads 3/4 as April 3."""
    if not iso_date:
        return "—"
    return format_date(date.fromisoformat(iso_date), format="long", locale="en")


def _call_language(answers: Mapping[str, Any]) -> str:
    language = _label(CALL_LANGUAGES, answers.get("language"))
    if answers.get("language") == "other" and answers.get("other_language"):
        return f"{language}: {answers['other_language']}"
    return language


def _interpreter(answers: Mapping[str, Any], site: Site) -> tuple[str, str] | None:
    """The interpreter staff must book, and what for: (language, purpose).

    The language is named only from the clinic's list: a listed language's
    name, "other", or "" when the call is in English. A call in another
    language always needs one. The purpose is "for the call", "for the
    visit", "for the call and the visit", or "" for a request stored before
    the form asked. None when none is needed."""
    choice = answers.get("interpreter")
    language = answers.get("language")
    call = language == "other" or choice in ("call", "both")
    visit = choice in ("visit", "both")
    if not (call or visit or choice is True):
        return None
    purpose = " and ".join(
        words for words, wanted in (("the call", call), ("the visit", visit)) if wanted
    )
    purpose = f"for {purpose}" if choice is not True or call else ""
    if language == "other":
        typed = _comparable(answers.get("other_language") or "")
        for known in site.call_languages:
            if typed in {_comparable(name) for name in (known.name, *known.also)}:
                return known.name, purpose
        return "other", purpose
    return ("Spanish" if language == "es" else ""), purpose


def _interpreter_needed(answers: Mapping[str, Any], site: Site) -> str:
    interpreter = _interpreter(answers, site)
    if interpreter is None:
        return "No"
    language, purpose = interpreter
    return ", ".join(part for part in ("Yes", language, purpose) if part)


def _subject_flags(answers: Mapping[str, Any], site: Site) -> list[str]:
    """What staff must arrange before calling: a Spanish speaker, an
    interpreter, what for and its language."""
    flags = ["Spanish"] if answers.get("language") == "es" else []
    interpreter = _interpreter(answers, site)
    if interpreter is not None:
        language, purpose = interpreter
        flag = f"Interpreter {purpose}".strip()
        flags.append(f"{flag}: {language}" if language else flag)
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
