"""The appointment-request form, its durable outbox, its mailer and its
health checks."""

from flask import Flask

from ..config import StartupError
from . import limit_store  # noqa: F401 (RATELIMIT_STORAGE_URI=sqlite://...)
from .outbox import Outbox
from .outbox import OutboxUnusable


def init_app(app: Flask) -> None:
    """Create the outbox, register the form's pages and the health checks.

    A damaged or unusable outbox stops the start with one message saying
    what to do (no traceback).
    """
    from . import delivery
    from . import health
    from .views import init_app as init_views

    config = app.config
    config["OUTBOX_LEASE_SECONDS"] = delivery.lease_seconds(config)
    outbox = Outbox(
        config["OUTBOX_PATH"],
        lease_seconds=float(config["OUTBOX_LEASE_SECONDS"]),
        retry_seconds=float(config["OUTBOX_RETRY_SECONDS"]),
        max_backoff=float(config["OUTBOX_MAX_BACKOFF_SECONDS"]),
        failing_after=int(config["OUTBOX_FAILING_AFTER"]),
    )
    try:
        outbox.create()
    except OutboxUnusable as error:
        raise StartupError("The site cannot start:", [str(error)]) from None
    app.extensions["outbox"] = outbox
    app.register_blueprint(health.bp)
    init_views(app)
