"""The immunotherapy microsite: create_app builds a configured Flask app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask import current_app

from . import appointments
from . import assets
from . import compression
from . import errors
from . import freeze
from . import i18n
from . import observability
from . import page_cache
from . import proxy
from . import security
from . import static_errors
from .cli import outbox_group
from .content import DEFAULT_CONTENT_DIR
from .content import ContentError
from .content import load_content
from .extensions import csrf
from .extensions import init_limiter
from .pages import bp as pages_bp
from .startup import StartupError
from .startup import check_config

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": None,
    "CONTENT_DIR": str(DEFAULT_CONTENT_DIR),
    "BABEL_DEFAULT_LOCALE": "en",
    # Relative paths are resolved against app.root_path (app/), so be explicit.
    "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "WTF_CSRF_TIME_LIMIT": 4 * 3600,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": False,
    # The SMTP relay; names as Flask-Mail uses them.
    "MAIL_SERVER": None,  # required outside debug and testing
    "MAIL_PORT": None,  # 25, or 465 with MAIL_USE_SSL
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": None,
    "MAIL_TIMEOUT": 10,
    "MAIL_CA_FILE": None,  # a CA bundle to trust instead of the system's
    "CLINIC_INBOX": None,
    "CLINIC_TIMEZONE": "America/Los_Angeles",  # for times in the clinic's email
    "OUTBOX_PATH": None,  # default: <instance folder>/outbox.sqlite3
    # A sender that dies mid-send holds its requests this long.
    "OUTBOX_LEASE_SECONDS": 300,
    # Retries wait 1, 2, 4 ... times this, up to the maximum.
    "OUTBOX_RETRY_SECONDS": 60,
    "OUTBOX_MAX_BACKOFF_SECONDS": 3600,
    "OUTBOX_FAILING_AFTER": 5,
    "APPOINTMENT_RATE_LIMIT": "5 per minute;30 per hour",
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then FLASK_* environment, then ``test_config``."""
    app = Flask(__name__, instance_relative_config=True)
    # Smaller pages for slow connections: drop template-only whitespace.
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    if not app.config["OUTBOX_PATH"]:
        app.config["OUTBOX_PATH"] = str(Path(app.instance_path) / "outbox.sqlite3")
    check_config(app)

    try:
        app.extensions["content"] = load_content(app.config["CONTENT_DIR"])
    except ContentError as error:
        raise StartupError("The content folder has problems:", error.problems) from None

    # The limiter first: a flood of token-less POSTs is limited too.
    init_limiter(app)
    csrf.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    observability.init_app(app)
    freeze.init_app(app)
    compression.init_app(app)
    assets.init_app(app)
    page_cache.init_app(app)
    # Last, so ProxyFix wraps the page replay: it must see the real scheme/host.
    proxy.init_app(app)
    app.register_blueprint(pages_bp)
    app.register_blueprint(static_errors.bp)
    appointments.init_app(app)
    app.cli.add_command(outbox_group)
    app.context_processor(_site_context)
    return app


def _site_context() -> dict[str, Any]:
    """The clinic's identity, for every template's header and footer."""
    return {"site": current_app.extensions["content"].site}
