"""The immunotherapy microsite: create_app builds a configured Flask app."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from . import assets
from . import compression
from . import errors
from . import i18n
from . import page_cache
from .content import DEFAULT_CONTENT_DIR
from .content import ContentError
from .content import load_content
from .extensions import csrf
from .extensions import limiter
from .startup import StartupError

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
    _check_config(app)

    try:
        app.extensions["content"] = load_content(app.config["CONTENT_DIR"])
    except ContentError as error:
        raise StartupError("The content folder has problems:", error.problems) from None

    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    compression.init_app(app)
    assets.init_app(app)
    page_cache.init_app(app)

    from .appointments.views import bp as appointments_bp
    from .pages import bp as pages_bp

    app.register_blueprint(pages_bp)
    app.register_blueprint(appointments_bp)

    @app.context_processor
    def site_context() -> dict[str, Any]:
        return {"site": app.extensions["content"].site}

    return app


def _check_config(app: Flask) -> None:
    problems = []
    if not app.config["SECRET_KEY"]:
        if app.debug or app.testing:
            # A throwaway key: sessions (and CSRF tokens) end with the process.
            app.config["SECRET_KEY"] = secrets.token_hex(32)
        else:
            problems.append(
                "SECRET_KEY is not set: export FLASK_SECRET_KEY=<a long random string>"
            )
    if problems:
        raise StartupError("The site cannot start:", problems)
