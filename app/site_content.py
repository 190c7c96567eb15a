"""The content folder, loaded once when the app is built.

Outside debug, broken content stops the start with one message listing every
problem. In debug (``flask --debug run``) the server keeps running and every
request shows the problems instead; the reloader watches ``content/**``
(.flaskenv), so the next saved edit restarts it with the content as it is.
"""

from __future__ import annotations

from types import MappingProxyType

from flask import Flask
from flask import Response

from .config import StartupError
from .content import Content
from .content import ContentError
from .content import load_content

HEADING = "The content folder has problems:"


def load(app: Flask) -> Content:
    """``CONTENT_DIR`` loaded and checked, for ``app.extensions["content"]``.

    Raises StartupError outside debug; in debug, returns empty content and
    answers every request with the list of problems.
    """
    directory = app.config["CONTENT_DIR"]
    try:
        return load_content(directory)
    except ContentError as error:
        if not app.debug:
            raise StartupError(HEADING, error.problems) from None
        problems = error.problems
    report = "\n".join(
        [HEADING, *(f"  - {problem}" for problem in problems), "", _NEXT_STEP]
        + [f"Folder: {directory}"]
    )
    app.logger.error("%s", report)

    @app.before_request
    def show_problems() -> Response:
        """Plain text, so it shows whatever state the content is in."""
        return Response(report, 500, {"Cache-Control": "no-store"}, "text/plain")

    return Content(site=None, pages=MappingProxyType({}))


_NEXT_STEP = (
    "Fix the files and save: the dev server restarts and serves the content. "
    "`flask content check` prints the same list; outside debug mode the site "
    "refuses to start with it."
)
