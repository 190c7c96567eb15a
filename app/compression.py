"""Compressed responses: brotli or gzip, whichever the visitor's browser accepts.

Bodies that never change while the process runs (content pages, static files)
are compressed once, at the best levels, into a ``Precompressed``; every other
response (the form, the sitemap, error pages) is compressed per request by
Flask-Compress, which leaves alone a response that already has an encoding.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from dataclasses import field

import brotli
from flask import Flask
from flask import current_app
from flask import request
from flask.wrappers import Response

from .extensions import compress

# In order of preference when the browser accepts both equally.
ENCODINGS = ("br", "gzip")


def init_app(app: Flask) -> None:
    """Compress dynamic responses with the same encodings as precompressed ones."""
    app.config.setdefault("COMPRESS_ALGORITHM", list(ENCODINGS))
    # Static files are served from memory, so no response is streamed; never
    # compress one chunk by chunk either.
    app.config.setdefault("COMPRESS_STREAMS", False)
    compress.init_app(app)


def is_compressible(mimetype: str) -> bool:
    """Whether bodies of this type shrink when compressed (text, not images)."""
    return mimetype in current_app.config["COMPRESS_MIMETYPES"]


@dataclass(frozen=True)
class Precompressed:
    """One body, its strong ETag and its encodings, all computed once."""

    body: bytes
    mimetype: str
    etag: str
    encoded: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def build(cls, body: bytes, mimetype: str) -> Precompressed:
        """Hash ``body`` and compress it with every encoding that makes it smaller."""
        encoded: dict[str, bytes] = {}
        if is_compressible(mimetype):
            candidates = {
                # Maximum levels: paid once per body, not once per request.
                "br": brotli.compress(body, quality=11),
                "gzip": gzip.compress(body, compresslevel=9, mtime=0),
            }
            encoded = {
                name: data for name, data in candidates.items() if len(data) < len(body)
            }
        etag = hashlib.sha256(body).hexdigest()[:32]
        return cls(body=body, mimetype=mimetype, etag=etag, encoded=encoded)

    def respond(self, cache_control: str) -> Response:
        """The best encoding the browser accepts, or 304 when it has this one."""
        encoding = request.accept_encodings.best_match(tuple(self.encoded))
        body = self.encoded[encoding] if encoding else self.body
        response = current_app.response_class(body, mimetype=self.mimetype)
        response.headers["Cache-Control"] = cache_control
        response.vary.add("Accept-Encoding")
        if encoding:
            response.content_encoding = encoding
            # Each encoding is a different sequence of bytes, so a strong ETag
            # of its own (the same suffix Flask-Compress gives dynamic bodies).
            response.set_etag(f"{self.etag}:{encoding}")
        else:
            response.set_etag(self.etag)
        return response.make_conditional(request)
