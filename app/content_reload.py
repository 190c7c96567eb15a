"""Put the content on the app: once at start-up; in debug, again after each edit.

Outside debug, broken content stops start-up (create_app turns the
ContentError into its start-up message). While developing, the dev server must
survive a broken edit: its problems are shown in the browser on every request,
and the next good edit is picked up on the next request. Replacing
``app.extensions["content"]`` is what lets anything keyed on that object (such
as a page cache) see the new content.

URL rules are built from the pages present at start-up, so a new page or a
changed slug needs a restart: flask run's reloader does that when it watches
the content files (FLASK_RUN_EXTRA_FILES in .flaskenv).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType

from flask import Flask
from flask import Response
from flask import current_app

from .content import Content
from .content import ContentError
from .content import load_content

WATCH = "content_watch"


def init_app(app: Flask) -> None:
    """Load ``CONTENT_DIR`` into ``app.extensions["content"]``.

    Raises ContentError outside debug; in debug, records the problems and
    shows them per request instead.
    """
    directory = Path(app.config["CONTENT_DIR"])
    if not app.debug:
        app.extensions["content"] = load_content(directory)
        return
    watch = ContentWatch(directory)
    app.extensions[WATCH] = watch
    try:
        app.extensions["content"] = load_content(directory)
    except ContentError as error:
        # No pages, so no page URLs until a restart; every request shows the
        # problems until then (a good edit restarts under the reloader).
        app.extensions["content"] = Content(site=None, pages=MappingProxyType({}))
        watch.fail(app, error.problems)
    watch.routes = _routes(app.extensions["content"])
    app.before_request(_reload_or_show_problems)


class ContentWatch:
    """The content files' modification times and the problems of the last load."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stamp = _stamp(directory)
        self.problems: list[str] = []
        self.routes: frozenset = frozenset()
        self._lock = threading.Lock()

    def fail(self, app: Flask, problems: list[str]) -> None:
        """Keep ``problems`` for the browser, and print them for the terminal."""
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        app.logger.error("The content folder has problems:\n%s", lines)

    def check(self, app: Flask) -> None:
        """Reload the content if any file changed since the last look."""
        with self._lock:
            stamp = _stamp(self.directory)
            if stamp == self.stamp:
                return
            self.stamp = stamp
            try:
                content = load_content(self.directory)
            except ContentError as error:
                self.fail(app, error.problems)
                return
            if _routes(content) != self.routes:
                self.fail(app, [RESTART])
                return
            app.extensions["content"] = content
            self.problems = []
            app.logger.info("Content reloaded from %s", self.directory)


RESTART = (
    "Pages or slugs changed since the server started: restart it to serve "
    "them (flask run's reloader does this itself when FLASK_RUN_EXTRA_FILES, "
    "set in .flaskenv, lists every content file)."
)


def _stamp(directory: Path) -> tuple:
    """Name, modification time and size of every content file."""
    files = [directory / "site.yaml", *sorted((directory / "pages").glob("*.yaml"))]
    return tuple(_file_stamp(path) for path in files)


def _file_stamp(path: Path) -> tuple:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _routes(content: Content) -> frozenset:
    """What the page URL rules were built from."""
    return frozenset(
        (page.id, lang, slug)
        for page in content.pages.values()
        for lang, slug in page.slugs.items()
    )


def _reload_or_show_problems() -> Response | None:
    """Debug only: pick up edits; while the content is broken, list its problems."""
    watch: ContentWatch = current_app.extensions[WATCH]
    watch.check(current_app._get_current_object())
    if not watch.problems:
        return None
    return _problems_page(watch.directory, watch.problems)


def _problems_page(directory: Path, problems: Iterable[str]) -> Response:
    # Straight from the Jinja environment: the context processors need the
    # very content that is broken.
    template = current_app.jinja_env.get_template("content_problems.html")
    body = template.render(directory=directory, problems=list(problems))
    response = Response(body, status=500, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
