"""The ``flask content`` and ``flask outbox`` command groups.

``content`` is a Flask CLI plugin (see pyproject.toml), so it runs without
building the app: an editor can check a broken content folder. ``outbox``
needs the configured app and is added by create_app.
"""

from __future__ import annotations

import os
import sqlite3

import click
from flask import current_app
from flask.cli import AppGroup

from .appointments.delivery import deliver_due
from .appointments.delivery import outbox_for
from .appointments.health import delivery_problems
from .appointments.outbox import describe_problem
from .config import CONTENT_DIR
from .content import WALLET_CARD_FILE
from .content import ContentError
from .content import load_content


@click.group("content")
def content_group() -> None:
    """Check the YAML content."""


@content_group.command("check")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
def content_check(directory: str | None) -> None:
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
    pages = f"{len(content.pages)} pages{card}"
    click.echo(f"Content OK: site.yaml, {pages} in {directory}")


@click.group("outbox", cls=AppGroup)
def outbox_group() -> None:
    """The queue of appointment requests waiting for delivery."""


# Exit statuses of `flask outbox deliver`, for cron, systemd and monitors.
EXIT_NOT_DELIVERED = 1  # a send failed in this run, or a request waits too long
EXIT_OUTBOX_UNUSABLE = 3  # the outbox file cannot be read or written


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
    OUTBOX_ALERT_SECONDS, 3 when the outbox cannot be used.
    """
    app = current_app._get_current_object()
    outbox = outbox_for(app)
    try:
        report = deliver_due(app, now=now)
        status = outbox.status()
    except (sqlite3.Error, OSError) as error:
        click.echo(f"Error: {describe_problem(outbox.path, error)}", err=True)
        raise SystemExit(EXIT_OUTBOX_UNUSABLE) from None
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
    outbox = outbox_for(current_app)
    try:
        status = outbox.status()
    except (sqlite3.Error, OSError) as error:
        click.echo(f"Error: {describe_problem(outbox.path, error)}", err=True)
        raise SystemExit(EXIT_OUTBOX_UNUSABLE) from None
    oldest = (
        "-"
        if status.oldest_age_seconds is None
        else f"{status.oldest_age_seconds:.0f} s"
    )
    click.echo(f"queued: {status.queued}")
    click.echo(f"oldest: {oldest}")
    click.echo(f"failing: {status.failing}")
    for reference in status.failing_references:
        click.echo(f"  failing request {reference}")
