"""Static files under content-hashed names, cached by browsers for a year.

``url_for('static', filename='site.css')`` gives ``/static/site.3f2a9c1b.css``:
the name changes whenever the bytes do, so browsers may keep each file
forever. The files are read, hashed and compressed once at start-up and served
from memory. The plain name still answers, with a short cache, for links made
elsewhere. Both are the normal ``static`` route, so Frozen-Flask finds them.

In debug mode none of this applies: the dev server does not restart when a
stylesheet changes, so Flask's own static view serves the file as it is now.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from pathlib import PurePosixPath

from flask import Flask
from flask import abort
from flask.wrappers import Response

from .compression import Precompressed

HASHED_CACHE = "public, max-age=31536000, immutable"
# The plain name may be linked from outside; its bytes can change under it.
PLAIN_CACHE = "no-cache"
HASH_LENGTH = 8


def hashed_name(filename: str, body: bytes) -> str:
    """``css/site.css`` -> ``css/site.<first 8 hex of sha256>.css``."""
    path = PurePosixPath(filename)
    digest = hashlib.sha256(body).hexdigest()[:HASH_LENGTH]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


@dataclass(frozen=True)
class Assets:
    """Every static file, by plain name, with its hashed name."""

    files: dict[str, Precompressed]
    hashed: dict[str, str]
    plain: dict[str, str]

    @classmethod
    def load(cls, folder: Path) -> Assets:
        """Read, hash and compress every file under ``folder``."""
        files: dict[str, Precompressed] = {}
        hashed: dict[str, str] = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            body = path.read_bytes()
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            files[name] = Precompressed.build(body, mimetype)
            hashed[name] = hashed_name(name, body)
        plain = {value: key for key, value in hashed.items()}
        return cls(files=files, hashed=hashed, plain=plain)

    def add_hash(self, endpoint: str, values: dict) -> None:
        """URL defaults: ``url_for('static', filename=...)`` names the hashed file."""
        if endpoint == "static" and values.get("filename") in self.hashed:
            values["filename"] = self.hashed[values["filename"]]

    def serve(self, filename: str) -> Response:
        """The ``static`` view: hashed names for a year, plain names revalidated."""
        if filename in self.plain:
            return self.files[self.plain[filename]].respond(HASHED_CACHE)
        if filename in self.files:
            return self.files[filename].respond(PLAIN_CACHE)
        abort(404)


def init_app(app: Flask) -> None:
    """Hash the static folder and take over the ``static`` endpoint."""
    if app.debug or not app.has_static_folder:
        return
    with app.app_context():  # compression settings are app config
        assets = Assets.load(Path(app.static_folder))
    app.extensions["assets"] = assets
    app.url_defaults(assets.add_hash)

    def static(filename: str) -> Response:
        """Flask's ``static`` endpoint, now served from memory."""
        return assets.serve(filename)

    # A plain function, not a bound method: Frozen-Flask takes a view's
    # ``__self__`` for the app or blueprint that owns the static folder.
    app.view_functions["static"] = static
