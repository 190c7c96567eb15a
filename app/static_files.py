"""Static files under content-hashed names, cached by browsers for a year.

Flask-Static-Digest writes ``site-<md5>.css`` copies and a manifest into
app/static (``make setup``, the wheel build); templates keep Flask's
``url_for('static', ...)``. Debug links the plain names: the dev server does
not rerun the digest when a stylesheet changes.
"""

from pathlib import Path

from flask import Flask
from flask import request
from flask import url_for
from flask.wrappers import Response
from flask_static_digest import FlaskStaticDigest

MANIFEST = "cache_manifest.json"


def init_app(app: Flask) -> None:
    """Link hashed names (outside debug) and let browsers keep those files."""
    if app.debug:
        app.add_template_global(url_for, "static_url_for")
        return
    manifest = FlaskStaticDigest(app).manifests.get("static", {})
    hashed = frozenset(manifest.values())

    def link_hashed_name(endpoint: str, values: dict) -> None:
        if endpoint == "static" and values.get("filename") in manifest:
            values["filename"] = manifest[values["filename"]]

    def cache_hashed_files(response: Response) -> Response:
        """A hashed name never changes its bytes, so it may be kept forever."""
        if request.endpoint == "static" and response.status_code == 200:
            if request.view_args["filename"] in hashed:
                response.cache_control.no_cache = None
                response.cache_control.public = True
                response.cache_control.max_age = 365 * 24 * 3600
                response.cache_control.immutable = True
        return response

    app.url_defaults(link_hashed_name)
    app.after_request(cache_hashed_files)


def manifest_problem(app: Flask) -> str | None:
    """Outside debug the hashed copies must exist, or pages link plain names."""
    manifest = Path(app.static_folder or "") / MANIFEST
    if app.debug or not app.static_folder or manifest.is_file():
        return None
    return (
        f"{manifest} is missing: digest the static files "
        "(`make setup`, or python hatch_build.py)"
    )
