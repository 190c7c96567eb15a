"""The appointment-request form, its durable outbox, its mailer and its
health checks."""

from flask import Flask

from ..config import StartupError
from . import limit_store  # noqa: F401 (RATELIMIT_STORAGE_URI=sqlite://...)
from .outbox import Outbox
from .outbox import OutboxNotMade
from .outbox import OutboxUnusable


def init_app(app: Flask) -> None:
    """Open the outbox, register the form's pages and the health checks.

    In debug and testing the outbox is made if missing. Elsewhere only
    `flask outbox init` makes it: a missing or replaced outbox leaves the
    site running but unusable (the form answers 503 with the answers, the
    health checks fail, `flask outbox deliver` exits 3), so the alarm rings.
    A damaged outbox, or one OUTBOX_KEY cannot open, stops the start with
    one message saying what to do (no traceback).
    """
    from . import health
    from .views import init_app as init_views

    config = app.config
    outbox = Outbox(
        config["OUTBOX_PATH"],
        config["OUTBOX_KEY"],
        lease_seconds=float(config["OUTBOX_LEASE_SECONDS"]),
        retry_seconds=float(config["OUTBOX_RETRY_SECONDS"]),
        max_backoff=float(config["OUTBOX_MAX_BACKOFF_SECONDS"]),
        failing_after=int(config["OUTBOX_FAILING_AFTER"]),
    )
    local = app.debug or app.testing
    try:
        outbox.create() if local else outbox.open()
    except OutboxNotMade as error:
        if local:
            raise StartupError("The site cannot start:", [str(error)]) from None
    except OutboxUnusable as error:
        raise StartupError("The site cannot start:", [str(error)]) from None
    app.extensions["outbox"] = outbox
    app.register_blueprint(health.bp)
    init_views(app)
