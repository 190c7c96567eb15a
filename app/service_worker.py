"""/sw.js: app/static/sw.js after a CONFIG of the pages it keeps for offline
use (the sitemap's but the form, which would hold what a patient typed), the
form's offline notice, and a version hashing all that, so any change drops
the old cache. Disabled, the worker unregisters itself and clears its cache.
"""

import hashlib
import json
from pathlib import Path
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


@bp.route("/sw.js")
def worker() -> Response:
    """The worker, always revalidated so a new version replaces the old."""
    enabled = bool(current_app.config["SERVICE_WORKER_ENABLED"])
    config = {"enabled": enabled, "keep": [], "forms": {}}
    if enabled:
        css = url_for("static", filename="site.css")
        config["keep"] = [
            urlsplit(url).path
            for endpoint, entry in sitemap_entries()
            if endpoint != "appointments.form"
            for url in entry.values()
        ]
        config["keep"] += [*NOT_FOUND_PATHS.values(), css]
        for lang in LANGUAGES:  # the form's path, and its notice offline
            with force_locale(lang):
                form = url_for("appointments.form", lang_code=lang)
                config["forms"][form] = render_template(
                    "offline_form.html", lang=lang, home=home_url(lang), stylesheet=css
                )
    digest = hashlib.sha256((json.dumps(config, sort_keys=True) + SOURCE).encode())
    config["version"] = digest.hexdigest()[:16]
    body = f"const CONFIG = {json.dumps(config)};\n{SOURCE}"
    response = Response(body, mimetype="text/javascript")
    response.cache_control.no_cache = True
    return response
