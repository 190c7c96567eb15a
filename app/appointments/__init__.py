"""The appointment-request form, its durable outbox, its mailer and its
health checks."""

import os
from contextlib import suppress
from pathlib import Path

from cryptography.fernet import Fernet
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
    if local and not config["OUTBOX_KEY"]:
        config["OUTBOX_KEY"] = [local_key(app.instance_path)]
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


def local_key(instance_path: str) -> str:
    """Debug and testing without OUTBOX_KEY: a key made once in the instance
    folder (0600), so the development outbox stays readable across restarts."""
    path = Path(instance_path) / "outbox.key"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    with suppress(FileExistsError), os.fdopen(os.open(path, flags, 0o600), "w") as f:
        f.write(Fernet.generate_key().decode())
    return path.read_text().strip()


def init_app(app: Flask) -> None:
    """Register the form's pages and the health checks (the outbox is
    opened by the start-up check, before)."""
    from . import health
    from .views import init_app as init_views

    app.register_blueprint(health.bp)
    init_views(app)
