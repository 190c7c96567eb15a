"""The appointment-request form, its durable outbox and its mailer."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Create the outbox and register the form's pages."""
    from .views import init_app as init_views

    init_views(app)
