"""The ``flask content`` and ``flask outbox`` command groups.

``content`` is a Flask CLI plugin (see pyproject.toml), so it runs without
building the app: an editor can check a broken content folder. ``outbox``
needs the configured app and is added by create_app.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup

from .appointments import limits
from .appointments.delivery import deliver_due
from .appointments.delivery import deliver_one
from .appointments.health import delivery_problems
from .appointments.outbox import OUTBOX_ERRORS
from .appointments.outbox import Entry
from .appointments.outbox import Outbox
from .appointments.outbox import OutboxExists
from .appointments.outbox import describe_problem
from .appointments.outbox import normalise_reference
from .config import CONTENT_DIR
from .content import WALLET_CARD_FILE
from .content import ContentError
from .content import launch_problems
from .content import load_content

log = logging.getLogger(__name__)


@click.group("content")
def content_group() -> None:
    """Check the YAML content."""


@content_group.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option(
    "--launch",
    is_flag=True,
    help="Also fail on every clinic fact still missing (phone, hours, "
    "response time, Notice of Privacy Practices, medical reviewer) and every "
    "change in CHANGES.md still awaiting clinician review.",
)
def content_check(directory: str | None, launch: bool) -> None:
    """Validate every content file: schema and English/Spanish parity.

    DIRECTORY defaults to $FLASK_CONTENT_DIR, else the site's own content
    (content/ in a checkout, the copy inside an installed wheel).
    """
    directory = directory or os.environ.get("FLASK_CONTENT_DIR") or CONTENT_DIR
    try:
        content = load_content(directory)
    except ContentError as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        count = len(error.problems)
        click.echo(
            f"{count} problem{'s' if count > 1 else ''} in {directory}", err=True
        )
        raise SystemExit(1) from None
    card = f" and {WALLET_CARD_FILE}" if content.wallet_card else ""
    click.echo(
        f"Content OK: site.yaml, {len(content.pages)} pages{card} in {directory}"
    )
    if launch and (problems := launch_problems(content, directory)):
        count = len(problems)
        # One message, so a build log shows the whole list at once.
        click.echo(
            f"Not ready to launch: {count} thing{'s' if count > 1 else ''} "
            "the clinic must still give or review:\n" + "\n".join(problems),
            err=True,
        )
        raise SystemExit(1)
    if launch:
        click.echo(
            "Ready to launch: every clinic fact is set and every change reviewed"
        )


@click.group("outbox", cls=AppGroup)
def outbox_group() -> None:
    """The queue of appointment requests waiting for delivery."""


# Exit statuses of the `flask outbox` commands, for cron, systemd and monitors.
EXIT_NOT_DELIVERED = 1  # a send failed in this run, or a request waits too long
EXIT_OUTBOX_UNUSABLE = 3  # the outbox file is missing, damaged or not ours


# click prints a ClickException as "Error: message" on stderr, and exits 1.
class _OutboxUnusable(click.ClickException):
    exit_code = EXIT_OUTBOX_UNUSABLE


@contextmanager
def usable_outbox() -> Iterator[Outbox]:
    """The app's outbox; an outbox that cannot be used ends the command with
    what to do and exit status 3."""
    outbox: Outbox = current_app.extensions["outbox"]
    try:
        yield outbox
    except OUTBOX_ERRORS as error:
        raise _OutboxUnusable(describe_problem(outbox.path, error)) from None


@outbox_group.command("init")
def outbox_init() -> None:
    """Create the outbox, once. Outside debug nothing else creates it, so a
    missing outbox is an alarm, never a silent fresh start."""
    with usable_outbox() as outbox:
        try:
            outbox.init()
        except OutboxExists as error:
            raise click.ClickException(f"{error}; nothing changed.") from None
    log.info("outbox: created %s", outbox.path)
    click.echo(f"Created the outbox {outbox.path}")


@outbox_group.command("deliver")
@click.option(
    "--now",
    is_flag=True,
    help="Send everything waiting at once, ignoring the retry delays "
    "(after fixing the relay).",
)
def outbox_deliver(now: bool) -> None:
    """Send every request that is due. Safe from cron, and concurrently.

    Exits 1 when a send failed or a request has waited longer than
    OUTBOX_ALERT_SECONDS or keeps failing, 3 when the outbox cannot be used.
    """
    app = current_app._get_current_object()
    with usable_outbox() as outbox:
        report = deliver_due(app, now=now)
        status = outbox.status()
    click.echo(
        f"delivered {report.delivered}, failed {report.failed}, "
        f"still queued {status.queued}"
    )
    problems = [f"not sent: {reason}" for reason in report.reasons]
    problems += delivery_problems(status, float(app.config["OUTBOX_ALERT_SECONDS"]))
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    if report.failed or problems:
        raise SystemExit(EXIT_NOT_DELIVERED)


@outbox_group.command("status")
def outbox_status() -> None:
    """Counts and ages only: never personal data."""
    with usable_outbox() as outbox:
        queued, age, failing, references = outbox.status()
    click.echo(f"queued: {queued}")
    click.echo(f"oldest: {'-' if age is None else f'{age:.0f} s'}")
    click.echo(f"failing: {failing}")
    for reference in references:
        click.echo(f"  failing request {reference}")
    # The form's 429s, as /healthz/delivery shows them: turned-away patients.
    refused = limits.report(current_app).refused
    click.echo(
        "refused (429) last hour: - (the rate-limit store cannot be used)"
        if refused is None
        else f"refused (429) last hour: per client {refused['per_client']}, "
        f"everyone limit {refused['everyone']}"
    )


def _duration(seconds: float) -> str:
    """45 s, 12 min, 3 h 05 min, 2 d 4 h: rounded down, never up, so an age
    reads against OUTBOX_ALERT_SECONDS as it is (Babel's rounds 1 h 30 to 2 h)."""
    seconds = max(seconds, 0)
    minutes, hours = int(seconds // 60), int(seconds // 3600)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if minutes < 60:
        return f"{minutes} min"
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _waiting_for(entry: Entry) -> list[str]:
    """The clinic inboxes that have not accepted ``entry`` yet."""
    inboxes = current_app.config.get("CLINIC_INBOX") or []
    return [inbox for inbox in inboxes if inbox not in entry.delivered_to]


@outbox_group.command("list")
def outbox_list() -> None:
    """Every waiting request: reference, age, attempts, next try, inboxes
    still to reach and the last error. Never personal data."""
    with usable_outbox() as outbox:
        entries = outbox.entries()
    now = time.time()
    for entry in entries:
        due = entry.next_attempt_at - now
        click.echo(
            f"{entry.reference}  waiting {_duration(now - entry.created_at)}  "
            f"attempts {entry.attempts}  "
            f"next try {'now' if due <= 0 else 'in ' + _duration(due)}  "
            f"to {', '.join(_waiting_for(entry)) or '-'}"
        )
        if entry.last_error:
            click.echo(f"    last error: {entry.last_error}")
    click.echo(f"{len(entries)} request(s) waiting")


def _waiting(outbox: Outbox, reference: str) -> Entry:
    """The request waiting under ``reference``; exit 1 when there is none."""
    reference = normalise_reference(reference)
    for entry in outbox.entries():
        if entry.reference == reference:
            return entry
    raise click.ClickException(
        f"no request {reference} is waiting (already delivered or discarded?);"
        " `flask outbox list` shows those that are"
    )


@outbox_group.command("retry")
@click.argument("reference")
def outbox_retry(reference: str) -> None:
    """Send the request REFERENCE now (after fixing what refused it).

    Exits 0 when it reached every inbox, 1 when it did not.
    """
    app = current_app._get_current_object()
    with usable_outbox() as outbox:
        entry = _waiting(outbox, reference)
        reference = entry.reference
        outbox.make_due(reference)
        log.info("outbox: request %s retried by an operator", reference)
        # False too when another sender delivered it meanwhile.
        delivered = deliver_one(app, entry.id)
        left = outbox.find(reference) is not None
    if not delivered and left:
        raise click.ClickException(
            f"request {reference} is still waiting: `flask outbox list` says why"
        )
    click.echo(f"Request {reference} delivered")


@outbox_group.command("discard")
@click.argument("reference")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def outbox_discard(reference: str, yes: bool) -> None:
    """Delete the request REFERENCE without sending it (the relay refuses it
    for good, and the clinic has it another way). It cannot be undone."""
    with usable_outbox() as outbox:
        entry = _waiting(outbox, reference)
        missing = ", ".join(_waiting_for(entry))
        if not yes:
            click.confirm(
                f"Discard request {entry.reference}? It has not reached "
                f"{missing or 'any inbox'}, and cannot be recovered",
                abort=True,
            )
        discarded = outbox.discard(entry.reference)
    if discarded:
        log.warning(
            "outbox: request %s discarded by an operator; never delivered to %s",
            entry.reference,
            missing or "-",
        )
    click.echo(f"Request {entry.reference} discarded")
