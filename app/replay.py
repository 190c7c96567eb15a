"""Replay whole content-page responses without running the Flask request cycle.

A content page's complete response (status, headers and body) depends only on
the path, the host and scheme, the encodings the browser accepts, its
language cookie and its conditional headers: the page cache renders the body
once, and every after-request hook (security headers, compression, the
language cookie, the 304) is a function of those same inputs. So the first
request with a given combination goes through Flask as usual; when its view
marked the response replayable, later identical requests get the recorded
response back, byte for byte, and are logged like any other.

Everything else goes to Flask: other methods, query strings, cookies other
than the language one (a form visitor's session), range requests, and every
response a view did not mark.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from flask import request

from .observability import log_request_line

# request.environ key a view sets when its response may be replayed.
REPLAYABLE = "site.replayable"
# Paths times languages' cookies times encodings times the few host names.
MAX_ENTRIES = 256
_LANGUAGE_COOKIE_ONLY = re.compile(r"lang=[a-z]{2}")

_KEPT = ("200", "304")

Recorded = tuple[str, list[tuple[str, str]], bytes]


def mark_replayable() -> None:
    """Tell ResponseReplay that this request's response may be replayed."""
    request.environ[REPLAYABLE] = True


class ResponseReplay:
    """WSGI middleware: record marked responses, replay them to identical requests."""

    def __init__(self, app: Callable, max_entries: int = MAX_ENTRIES) -> None:
        self.app = app
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, Recorded] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(environ: dict[str, Any]) -> tuple | None:
        """Everything the response may depend on, or None to always ask Flask."""
        if environ["REQUEST_METHOD"] != "GET" or environ.get("QUERY_STRING"):
            return None
        if "HTTP_RANGE" in environ:
            return None
        cookie = environ.get("HTTP_COOKIE", "")
        if cookie and not _LANGUAGE_COOKIE_ONLY.fullmatch(cookie):
            return None
        return (
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ["wsgi.url_scheme"],
            environ.get("HTTP_HOST") or environ.get("SERVER_NAME"),
            environ.get("HTTP_ACCEPT_ENCODING", ""),
            cookie,
            environ.get("HTTP_IF_NONE_MATCH"),
            environ.get("HTTP_IF_MODIFIED_SINCE"),
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        key = self._key(environ)
        if key is None:
            return self.app(environ, start_response)
        recorded = self._entries.get(key)
        if recorded is not None:
            return self._replay(environ, start_response, recorded)
        return self._record(key, environ, start_response)

    def _replay(self, environ, start_response, recorded: Recorded) -> list[bytes]:
        started = time.perf_counter()
        status, headers, body = recorded
        start_response(status, list(headers))
        log_request_line(
            "GET",
            environ.get("PATH_INFO", ""),
            int(status[:3]),
            (time.perf_counter() - started) * 1000,
        )
        return [body]

    def _record(self, key: tuple, environ, start_response) -> Iterable[bytes]:
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        chunks = self.app(environ, capture)
        # Only the answers a page gives every time: never a failure.
        if not environ.get(REPLAYABLE) or seen.get("status", "")[:3] not in _KEPT:
            return chunks
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        with self._lock:
            self._entries[key] = (seen["status"], list(seen["headers"]), body)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return [body]
