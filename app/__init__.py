"""The immunotherapy microsite: create_app builds a configured Flask app."""

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import appointments
from . import config
from . import errors
from . import i18n
from . import observability
from . import security
from . import site_content
from . import static_files
from .cli import outbox_group
from .extensions import compress
from .extensions import csrf
from .extensions import limiter
from .freeze import freeze_command
from .pages import bp as pages_bp
from .service_worker import bp as service_worker_bp


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then FLASK_* environment, then ``test_config``.

    Two orders matter: the start-up check (which loads the content) comes
    before the blueprints, which make URL rules from it; and Flask-Limiter,
    errors (which reads the body, so an unreadable one is a 400), then
    Flask-WTF, so a flood of token-less POSTs is limited too.
    """
    app = Flask(__name__, instance_relative_config=True)
    # Smaller pages for slow connections: drop template-only whitespace.
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_prefixed_env()
    if test_config:
        app.config.update(test_config)
    config.check(app, content=site_content.load, outbox=appointments.open_outbox)

    limiter.init_app(app)
    errors.init_app(app)
    csrf.init_app(app)
    compress.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    observability.init_app(app)
    static_files.init_app(app)
    app.register_blueprint(pages_bp)
    app.register_blueprint(service_worker_bp)
    appointments.init_app(app)
    app.cli.add_command(outbox_group)
    app.cli.add_command(freeze_command)
    # The clinic's identity, for every template's header and footer.
    app.context_processor(lambda: {"site": app.extensions["content"].site})

    if hops := app.config["TRUSTED_PROXIES"]:
        # The address, scheme and host the nearest trusted proxy saw.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app
