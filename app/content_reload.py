"""Put the content on the app: once at start-up; in debug, afresh per request.

Outside debug, broken content stops start-up. In debug, each request reads the
folder again (a few ms), so an edit shows at once and a broken one shows its
problems in the browser while the dev server keeps running.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from flask import Flask
from flask import Response

from .content import Content
from .content import ContentError
from .content import load_content

# URL rules are built at start-up; .flaskenv's FLASK_RUN_EXTRA_FILES lets
# flask run's reloader restart for a new page or slug.
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
        app.before_request(_DebugContent(app, directory).reload)
    else:
        app.extensions["content"] = load_content(directory)


class _DebugContent:
    """The content read afresh for each request, or its problems shown."""

    def __init__(self, app: Flask, directory: Path) -> None:
        self.app, self.directory, self.problems = app, directory, []
        try:
            app.extensions["content"] = load_content(directory)
        except ContentError as error:
            # No pages, hence no page URLs until a restart.
            app.extensions["content"] = Content(site=None, pages=MappingProxyType({}))
            self._note(error.problems)
        self.routes = _routes(app.extensions["content"])

    def reload(self) -> Response | None:
        """A new Content object: whatever was kept for the old one starts afresh."""
        try:
            content = load_content(self.directory)
            self._note([] if _routes(content) == self.routes else [RESTART])
        except ContentError as error:
            self._note(error.problems)
        if not self.problems:
            self.app.extensions["content"] = content
            return None
        # Straight from the Jinja environment: the context processors need
        # the very content that is broken.
        template = self.app.jinja_env.get_template("content_problems.html")
        body = template.render(directory=self.directory, problems=self.problems)
        return Response(body, 500, {"Cache-Control": "no-store"}, "text/html")

    def _note(self, problems: list[str]) -> None:
        if problems and problems != self.problems:  # once, not on every request
            lines = "".join(f"\n  - {problem}" for problem in problems)
            self.app.logger.error("The content folder has problems:%s", lines)
        self.problems = problems


def _routes(content: Content) -> set[tuple[str, str, str]]:
    """What the page URL rules were built from."""
    return {
        (page.id, lang, slug)
        for page in content.pages.values()
        for lang, slug in page.slugs.items()
    }
