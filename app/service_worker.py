"""/sw.js: the service worker that keeps the reading pages for offline use.

The worker's code is app/static/sw.js; this module puts before it what it
keeps, derived from the sitemap (all but the form) plus the not-found pages
and the hashed stylesheet, and the form's offline notice in each language.
Its version is a hash of all that, so any change installs a new worker that
drops the old cache. SERVICE_WORKER_ENABLED off serves a worker that
unregisters itself and clears its cache (for visitors of the frozen build).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import render_template
from flask import url_for
from flask_babel import force_locale

from .content import LANGUAGES
from .errors import NOT_FOUND_PATHS
from .i18n import home_url
from .pages import sitemap_entries

bp = Blueprint("service_worker", __name__)

SOURCE = (Path(__file__).parent / "static/sw.js").read_text(encoding="utf-8")
# The form is never kept: it would hold what a patient typed.
_NEVER_KEPT = ("appointments.form",)


def kept_paths() -> list[str]:
    """Every path the worker keeps, in the sitemap's order."""
    paths = [
        urlsplit(url).path
        for endpoint, entry in sitemap_entries()
        if endpoint not in _NEVER_KEPT
        for url in entry.values()
    ]
    paths += NOT_FOUND_PATHS.values()
    paths.append(url_for("static", filename="site.css"))
    return paths


def _offline_forms() -> dict[str, str]:
    """Each language's form path and the page shown for it offline."""
    forms = {}
    for lang in LANGUAGES:
        with force_locale(lang):
            forms[url_for("appointments.form", lang_code=lang)] = render_template(
                "offline_form.html",
                lang=lang,
                home=home_url(lang),
                stylesheet=url_for("static", filename="site.css"),
            )
    return forms


def worker_config() -> dict[str, Any]:
    """What sw.js reads as CONFIG; ``version`` hashes the rest and the code."""
    enabled = bool(current_app.config["SERVICE_WORKER_ENABLED"])
    config: dict[str, Any] = {
        "enabled": enabled,
        "keep": kept_paths() if enabled else [],
        "forms": _offline_forms() if enabled else {},
    }
    digest = hashlib.sha256((json.dumps(config, sort_keys=True) + SOURCE).encode())
    config["version"] = digest.hexdigest()[:16]
    return config


@bp.route("/sw.js")
def worker() -> Response:
    """The worker, always revalidated so a new version replaces the old."""
    body = f"const CONFIG = {json.dumps(worker_config())};\n{SOURCE}"
    response = Response(body, mimetype="text/javascript")
    response.cache_control.no_cache = True
    return response
