"""The content folder, loaded once when the app is built.

Outside debug, its problems join the start-up check's one message
(app/config.py). In debug (``flask --debug run``) the server keeps running and
every request shows the problems instead; the reloader watches ``content/**``
(.flaskenv), so the next saved edit restarts it with the content as it is.
"""

from __future__ import annotations

from types import MappingProxyType

from flask import Flask
from flask import Response

from .content import Content
from .content import ContentError
from .content import load_content

HEADING = "The content folder has problems:"


def load(app: Flask) -> list[str]:
    """``CONTENT_DIR`` loaded into ``app.extensions["content"]``; its problems.

    In debug the problems are not returned: the content is empty and every
    request answers with the list of problems instead.
    """
    directory = app.config["CONTENT_DIR"]
    try:
        app.extensions["content"] = load_content(directory)
        return []
    except ContentError as error:
        problems = error.problems
    app.extensions["content"] = Content(site=None, pages=MappingProxyType({}))
    if not app.debug:
        return problems
    report = "\n".join(
        [HEADING, *(f"  - {problem}" for problem in problems), "", _NEXT_STEP]
        + [f"Folder: {directory}"]
    )
    app.logger.error("%s", report)

    @app.before_request
    def show_problems() -> Response:
        """Plain text, so it shows whatever state the content is in."""
        return Response(report, 500, {"Cache-Control": "no-store"}, "text/plain")

    return []


_NEXT_STEP = (
    "Fix the files and save: the dev server restarts and serves the content. "
    "`flask content check` prints the same list; outside debug mode the site "
    "refuses to start with it."
)
