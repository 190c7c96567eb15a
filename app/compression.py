"""Compressed responses: brotli or gzip, whichever the visitor's browser accepts.

Bodies that never change while the process runs (content pages, static files)
are compressed once, at the best levels, into a ``Precompressed``; every other
response (the form, the sitemap, error pages) is compressed per request by
Flask-Compress, which leaves alone a response that already has an encoding.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass

import brotli
from flask import Flask
from flask import current_app
from flask import request
from flask.wrappers import Response
from werkzeug.http import parse_accept_header
from werkzeug.http import quote_etag
from werkzeug.utils import get_content_type

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

    content_type: str
    # Encoding ("br", "gzip", or None for the body as it is) -> bytes, ETag.
    encoded: dict[str | None, bytes]
    etags: dict[str | None, str]

    @classmethod
    def build(cls, body: bytes, mimetype: str) -> Precompressed:
        """Hash ``body`` and compress it with every encoding that makes it smaller."""
        encoded: dict[str | None, bytes] = {None: body}
        if is_compressible(mimetype):
            candidates = {
                # Maximum levels: paid once per body, not once per request.
                "br": brotli.compress(body, quality=11),
                "gzip": gzip.compress(body, compresslevel=9, mtime=0),
            }
            encoded |= {
                name: data for name, data in candidates.items() if len(data) < len(body)
            }
        etag = hashlib.sha256(body).hexdigest()[:32]
        # Each encoding is a different sequence of bytes, so it gets a strong
        # ETag of its own (the suffix Flask-Compress gives dynamic bodies).
        etags = {
            name: quote_etag(f"{etag}:{name}" if name else etag) for name in encoded
        }
        return cls(
            content_type=get_content_type(mimetype, "utf-8"),
            encoded=encoded,
            etags=etags,
        )

    def respond(self, cache_control: str) -> Response:
        """The best encoding the browser accepts, or 304 when it has this one."""
        encoding = best_encoding(
            request.headers.get("Accept-Encoding", ""), tuple(self.encoded)
        )
        headers = [
            ("Content-Type", self.content_type),
            ("Cache-Control", cache_control),
            ("Vary", "Accept-Encoding"),
            ("ETag", self.etags[encoding]),
        ]
        if encoding:
            headers.append(("Content-Encoding", encoding))
        response = current_app.response_class(self.encoded[encoding], headers=headers)
        # Only a validator we gave out can match; most requests carry none.
        if "HTTP_IF_NONE_MATCH" in request.environ:
            response.make_conditional(request)
        return response


@functools.lru_cache(maxsize=256)
def best_encoding(accept_encoding: str, names: tuple[str | None, ...]) -> str | None:
    """The browser's preferred encoding among ``names``; None for none.

    Cached: browsers send a handful of distinct headers, and parsing one costs
    more than the rest of serving a precompressed page.
    """
    offered = tuple(name for name in names if name)
    return parse_accept_header(accept_encoding).best_match(offered)
