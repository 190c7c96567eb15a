"""The clinic's email: a stored request as the front desk reads it, in
English whatever the page's language.

It reads the stored answers only (the form may have changed since they were
stored), with the choices' labels from choices.py; the form never imports it.
"""

import unicodedata
from collections.abc import Mapping
from datetime import date
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from typing import NamedTuple
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import render_template
from flask_babel import force_locale

from ..content import Site
from ..phone_numbers import PhoneNumberError
from ..phone_numbers import parse_phone
from . import choices
from .mailer import setting
from .outbox import QueuedRequest


def build_message(
    request: QueuedRequest, config: Mapping[str, Any], site: Site
) -> EmailMessage:
    """The clinic's email, plain text and HTML. Needs an app context
    (templates). EmailMessage refuses header values with line breaks, a
    second guard after the form's own."""
    payload = request.payload
    received = datetime.fromisoformat(payload["received_at"])
    zone = ZoneInfo(config["CLINIC_TIMEZONE"])  # checked at start-up
    with force_locale("en"):
        staff = for_staff(payload, site)
        context = {
            "request": request,
            "blocks": staff.blocks,
            "message_lines": (staff.message or "").splitlines(),
            # In the clinic's own time zone, for staff.
            "received": received.astimezone(zone).strftime(
                "%A, %B %-d, %Y, %-I:%M %p %Z"
            ),
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
    if payload.get("email"):
        # No display name: the address may be a relative's or an office's.
        message["Reply-To"] = Address(addr_spec=payload["email"])
    message["Message-ID"] = request.message_id
    message["Date"] = format_datetime(received)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class StaffLine(NamedTuple):
    """One line of the email: a label, the answer, and a link if it dials."""

    label: str
    text: str
    href: str | None = None


class ForStaff(NamedTuple):
    """A stored request as the email shows it: its blocks of lines by heading,
    the person's own words apart from them, and the subject's flags (never
    anything typed)."""

    blocks: dict[str, list[StaffLine]]
    message: str | None
    flags: list[str]


def for_staff(answers: Mapping[str, Any], site: Site) -> ForStaff:
    """What staff read, in the order they need it: the patient, then the
    person to call (who may not be the patient), then the request. English:
    call it under ``force_locale("en")``, so the choices' labels are the
    form's own."""

    def label(options: Mapping[str, Any], name: str) -> str:
        return str(options.get(answers.get(name), "—"))

    # Spelled out, so no one reads 3/4 as April 3.
    born = answers.get("date_of_birth")
    born = format_date(date.fromisoformat(born), "long", locale="en") if born else "—"
    # Who answers the phone, so the receptionist need not guess.
    caller = [("Name", "the patient")]
    relation = "Relationship to the patient"
    if answers.get("requester") == "family":
        caller = [("Name", answers.get("requester_name") or "—")]
        caller.append((relation, answers.get("relationship") or "—"))
    elif answers.get("requester") == "office":
        caller = [("Name", answers.get("office_name") or "—")]
        caller.append((relation, "the patient’s doctor’s office"))
    try:
        phone = parse_phone(answers["phone"])
        caller.append(("Phone", phone.display, phone.tel))
    except PhoneNumberError:
        # Stored before today's checks: still the clinic's to read, never a
        # request stuck in the outbox.
        caller.append(("Phone", answers["phone"]))
    language = label(choices.CALL_LANGUAGES, "language")
    if answers.get("language") == "other" and answers.get("other_language"):
        language = f"{language}: {answers['other_language']}"
    # What the received page told the patient (in their language; here in
    # English): who gets in touch how, and when, if the clinic says.
    promises = choices.PROMISES
    promise = str(promises.get(answers.get("contact_method"), promises["call"]))
    if site.response_time:
        promise = f"{promise} {site.response_time['en']}"
    form_language = "Spanish" if answers.get("page_language") == "es" else "English"
    offices = {location.id: location.name for location in site.locations}
    office = answers.get("location")
    interpreter, flags = _interpreter(answers, site)
    blocks = {
        "Patient": [
            ("Patient name", f"{answers['first_name']} {answers['last_name']}"),
            ("Date of birth", born),
            ("New or returning", label(choices.PATIENT_STATUSES, "patient_status")),
        ],
        "Person to call": [
            *caller,
            ("Email", answers.get("email") or "—"),
            ("Preferred contact", label(choices.CONTACT_METHODS, "contact_method")),
            ("Best time to reach", label(choices.BEST_TIMES, "best_time")),
            ("Language for the call", language),
        ],
        "Request": [
            ("Interpreter", interpreter),
            ("Reason", label(choices.REASONS, "reason")),
            ("Referring doctor", answers.get("referring_doctor") or "—"),
            *([("Preferred office", offices.get(office, office))] if office else []),
            ("Form language", form_language),
            ("Told on the received page", promise),
        ],
    }
    return ForStaff(
        {
            heading: [StaffLine(*line) for line in lines]
            for heading, lines in blocks.items()
        },
        answers.get("message"),
        flags,
    )


def _interpreter(answers: Mapping[str, Any], site: Site) -> tuple[str, list[str]]:
    """The interpreter staff must book, as the email's line ("Yes, Hmong, for
    the call"), and the subject's flags: what staff must arrange before
    calling. A call in another language always needs one; its language is
    named only from the clinic's list, else "other". A request stored before
    the form asked what for (``interpreter`` True) may give no purpose."""
    choice = answers.get("interpreter")
    language = answers.get("language")
    flags = ["Spanish"] if language == "es" else []
    call = language == "other" or choice in ("call", "both")
    visit = choice in ("visit", "both")
    if not (call or visit or choice is True):
        return "No", flags
    purpose = " and ".join(
        words for words, wanted in (("the call", call), ("the visit", visit)) if wanted
    )
    purpose = f"for {purpose}" if purpose else ""
    named = "Spanish" if language == "es" else ""
    if language == "other":
        # Reversed: a name two languages share is the first one's.
        listed = {
            _comparable(name): known.name
            for known in reversed(site.call_languages)
            for name in (known.name, *known.also)
        }
        named = listed.get(_comparable(answers.get("other_language") or ""), "other")
    flag = f"Interpreter {purpose}".strip()
    flags.append(f"{flag}: {named}" if named else flag)
    return ", ".join(part for part in ("Yes", named, purpose) if part), flags


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
