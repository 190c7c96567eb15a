"""The immunotherapy microsite: create_app builds a configured Flask app."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask import current_app

from . import appointments
from . import config
from . import content_reload
from . import encoding
from . import errors
from . import i18n
from . import observability
from . import proxy
from . import security
from . import static_errors
from . import static_files
from .cli import outbox_group
from .content import ContentError
from .extensions import csrf
from .extensions import limiter
from .freeze import freeze_command
from .pages import bp as pages_bp
from .wallet_card import bp as wallet_card_bp


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then FLASK_* environment, then ``test_config``."""
    app = Flask(__name__, instance_relative_config=True)
    # Smaller pages for slow connections: drop template-only whitespace.
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    config.check(app)

    try:
        # In debug, content problems are shown per request instead.
        content_reload.init_app(app)
    except ContentError as error:
        raise config.StartupError(
            "The content folder has problems:", error.problems
        ) from None

    # Before CSRF: Flask-Limiter's check then runs first, so a flood of
    # token-less POSTs is limited too.
    limiter.init_app(app)
    csrf.init_app(app)
    # Flask runs after_request hooks last-registered first, so compression,
    # registered early, sees each response with every header already set.
    encoding.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    observability.init_app(app)
    static_files.init_app(app)
    proxy.init_app(app)
    app.register_blueprint(pages_bp)
    app.register_blueprint(wallet_card_bp)
    app.register_blueprint(static_errors.bp)
    appointments.init_app(app)
    app.cli.add_command(outbox_group)
    app.cli.add_command(freeze_command)
    app.context_processor(_site_context)
    return app


def _site_context() -> dict[str, Any]:
    """The clinic's identity, for every template's header and footer."""
    return {"site": current_app.extensions["content"].site}
