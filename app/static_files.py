"""Static files under content-hashed names, cached by browsers for a year.

Flask-Static-Digest writes ``site-<md5>.css`` copies and a manifest into
app/static (``make setup`` and the wheel build run it; the copies are not in
git), and ``static_url_for`` in the templates links the hashed name. A
maintained library rather than our own hashing; its output is plain files, so
Frozen-Flask copies them into the build and nginx or a CDN serves them as they
are. Flask's own static view serves them here.

In debug the templates link the plain names: the dev server does not rerun the
digest when a stylesheet changes.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask import request
from flask import url_for
from flask.wrappers import Response
from flask_static_digest import FlaskStaticDigest

MANIFEST = "cache_manifest.json"
YEAR = 365 * 24 * 3600


def init_app(app: Flask) -> None:
    """Link hashed names (outside debug) and let browsers keep those files."""
    if app.debug:
        app.add_template_global(url_for, "static_url_for")
        return
    digest = FlaskStaticDigest(app)
    hashed = frozenset(digest.manifests.get("static", {}).values())

    def cache_hashed_files(response: Response) -> Response:
        """A hashed name never changes its bytes, so it may be kept forever."""
        if request.endpoint == "static" and response.status_code == 200:
            if (request.view_args or {}).get("filename") in hashed:
                response.cache_control.no_cache = None
                response.cache_control.public = True
                response.cache_control.max_age = YEAR
                response.cache_control.immutable = True
        return response

    app.after_request(cache_hashed_files)


def manifest_problem(app: Flask) -> str | None:
    """Outside debug the hashed copies must exist, or pages link plain names."""
    if app.debug or not app.static_folder:
        return None
    if (Path(app.static_folder) / MANIFEST).is_file():
        return None
    return (
        f"{Path(app.static_folder) / MANIFEST} is missing: digest the static files "
        "(`make setup`, or python hatch_build.py)"
    )
