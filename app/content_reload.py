"""Put the content on the app: once at start-up; in debug, again after each edit.

Outside debug, broken content stops start-up (create_app reports the
ContentError). While developing, the dev server survives a broken edit: the
browser shows its problems on every request, and the next good edit is picked
up. The new content is a new object, so whatever was kept for the old one
(such as rendered pages) starts afresh.

Page URL rules are built at start-up, so a new page or a changed slug needs a
restart: flask run's reloader does that for the files FLASK_RUN_EXTRA_FILES
lists (.flaskenv).
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import MappingProxyType

from flask import Flask
from flask import Response

from .content import Content
from .content import ContentError
from .content import load_content

RESTART = (
    "Pages or slugs changed since the server started: restart it to serve "
    "them (flask run's reloader does this itself when FLASK_RUN_EXTRA_FILES, "
    "set in .flaskenv, lists every content file)."
)


def init_app(app: Flask) -> None:
    """Load ``CONTENT_DIR`` into ``app.extensions["content"]``.

    Raises ContentError outside debug; in debug, shows the problems per request.
    """
    directory = Path(app.config["CONTENT_DIR"])
    if app.debug:
        app.before_request(_Watch(app, directory).before_request)
    else:
        app.extensions["content"] = load_content(directory)


class _Watch:
    """Debug only: reload the content when a file changes; show its problems."""

    def __init__(self, app: Flask, directory: Path) -> None:
        self.app, self.directory = app, directory
        self.lock = threading.Lock()  # the dev server is threaded
        self.stamp = _stamp(directory)
        self.problems: list[str] = []
        try:
            app.extensions["content"] = load_content(directory)
        except ContentError as error:
            # No pages, hence no page URLs until a restart.
            app.extensions["content"] = Content(site=None, pages=MappingProxyType({}))
            self._fail(error.problems)
        self.routes = _routes(app.extensions["content"])

    def before_request(self) -> Response | None:
        """Pick up edits; while the content is broken, answer with its problems."""
        with self.lock:
            stamp = _stamp(self.directory)
            if stamp != self.stamp:
                self.stamp = stamp
                self._reload()
        if not self.problems:
            return None
        # Straight from the Jinja environment: the context processors need
        # the very content that is broken.
        template = self.app.jinja_env.get_template("content_problems.html")
        body = template.render(directory=self.directory, problems=self.problems)
        return Response(body, 500, {"Cache-Control": "no-store"}, "text/html")

    def _reload(self) -> None:
        try:
            content = load_content(self.directory)
        except ContentError as error:
            self._fail(error.problems)
            return
        if _routes(content) != self.routes:
            self._fail([RESTART])
            return
        self.app.extensions["content"] = content
        self.problems = []
        self.app.logger.info("Content reloaded from %s", self.directory)

    def _fail(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        self.app.logger.error("The content folder has problems:\n%s", lines)


def _stamp(directory: Path) -> list[tuple[str, int, int]] | None:
    """Name, modification time and size of every content file."""
    try:
        stats = [(str(p), p.stat()) for p in sorted(directory.rglob("*.yaml"))]
    except OSError:
        return None  # a file vanished while looking: look again next time
    return [(name, s.st_mtime_ns, s.st_size) for name, s in stats]


def _routes(content: Content) -> set[tuple[str, str, str]]:
    """What the page URL rules were built from."""
    return {
        (page.id, lang, slug)
        for page in content.pages.values()
        for lang, slug in page.slugs.items()
    }
