"""The appointment-request form, its durable outbox, its mailer and its
health checks."""

from flask import Flask

from . import limit_store  # noqa: F401 (RATELIMIT_STORAGE_URI=sqlite://...)
from .outbox import Outbox
from .outbox import OutboxNotMade
from .outbox import OutboxUnusable


def open_outbox(app: Flask) -> list[str]:
    """The outbox, opened into ``app.extensions["outbox"]``; its problems,
    for the start-up check's one message (app/config.py).

    In debug and testing the outbox is made if missing. Elsewhere only
    `flask outbox init` makes it: a missing or replaced outbox leaves the
    site running but unusable (the form answers 503 with the answers, the
    health checks fail, `flask outbox deliver` exits 3), so the alarm rings.
    A damaged outbox, or one OUTBOX_KEY cannot open, is a problem that
    stops the start.
    """
    config = app.config
    local = app.debug or app.testing
    outbox = Outbox(
        config["OUTBOX_PATH"],
        config["OUTBOX_KEY"],
        lease_seconds=config["OUTBOX_LEASE_SECONDS"],
        retry_seconds=config["OUTBOX_RETRY_SECONDS"],
        max_backoff=config["OUTBOX_MAX_BACKOFF_SECONDS"],
        failing_after=config["OUTBOX_FAILING_AFTER"],
    )
    app.extensions["outbox"] = outbox
    try:
        outbox.create() if local else outbox.open()
    except OutboxNotMade as error:
        return [str(error)] if local else []
    except OutboxUnusable as error:
        return [str(error)]
    return []


def init_app(app: Flask) -> None:
    """Register the form's pages and the health checks (the outbox is
    opened by the start-up check, before)."""
    from . import health
    from .views import init_app as init_views

    app.register_blueprint(health.bp)
    init_views(app)
