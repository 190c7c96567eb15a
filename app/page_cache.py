"""Pages rendered once per language and host, then served as bytes.

A content page depends only on its URL: the content, parsed at start-up, and
the language in the path. So ``@cached_page`` renders it once, compresses it
once (``Precompressed``) and answers every later visit with those bytes, an
ETag and a 304 when the browser already has them. The host is part of the key
because canonical and alternate links are absolute. Hosts come from the
request, so the cache is bounded.

Only for views whose output depends on nothing else: not the form (its CSRF
token is per visitor). The whole response, after-request hooks included, is
then recorded and replayed to identical requests (app/replay.py). In debug
mode templates reload on every change, so pages are rendered per request
(and still compressed).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Hashable

from flask import Flask
from flask import current_app
from flask import g
from flask import request
from flask.wrappers import Response

from .compression import Precompressed
from .replay import ResponseReplay
from .replay import mark_replayable

# Browsers may keep a page but must ask whether it changed (a 304 costs a few
# hundred bytes), so a content edit reaches every reader at once.
PAGE_CACHE_CONTROL = "no-cache"
# Pages times languages times the few names the site answers to.
MAX_ENTRIES = 64


class PageCache:
    """A small thread-safe LRU of rendered pages."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Precompressed] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Precompressed]) -> Precompressed:
        """The page under ``key``, built (outside the lock) on first use."""
        with self._lock:
            page = self._entries.get(key)
            if page is not None:
                self._entries.move_to_end(key)
                return page
        # Two threads may both build a new page; they build the same bytes.
        page = build()
        with self._lock:
            self._entries[key] = page
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return page


def init_app(app: Flask) -> None:
    """Give ``app`` its own page cache and response replay, except in debug mode."""
    if not app.debug:
        app.extensions["page_cache"] = PageCache()
        app.wsgi_app = ResponseReplay(app.wsgi_app)
        # Compile every template now, in the process gunicorn forks its
        # workers from, so a new worker's first page costs a render, not a
        # compile of the whole template chain.
        for name in app.jinja_env.list_templates():
            app.jinja_env.get_template(name)


def cached_page(view: Callable[..., str]) -> Callable[..., Response]:
    """Serve ``view``'s HTML from the page cache, keyed by URL and host."""

    @functools.wraps(view)
    def wrapper(**kwargs) -> Response:
        def build() -> Precompressed:
            return Precompressed.build(view(**kwargs).encode(), "text/html")

        cache: PageCache | None = current_app.extensions.get("page_cache")
        if cache is None:
            return build().respond(PAGE_CACHE_CONTROL)
        key = (
            request.endpoint,
            g.get("lang_code"),
            # What absolute URLs start with (cheaper than request.url_root).
            request.scheme,
            request.host,
            request.script_root,
            tuple(sorted(kwargs.items())),
        )
        mark_replayable()
        return cache.get(key, build).respond(PAGE_CACHE_CONTROL)

    return wrapper
