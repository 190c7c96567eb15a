"""The appointment-request pages."""

from __future__ import annotations

from flask import Blueprint
from flask import render_template

from ..i18n import add_localized_rule

bp = Blueprint("appointments", __name__)


def form() -> str:
    """The request form."""
    return render_template("appointments/form.html")


add_localized_rule(
    bp, {"en": "/en/request-appointment", "es": "/es/solicitar-cita"}, "form", form
)
