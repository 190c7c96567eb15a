"""The content folder, loaded once when the app is built. Its problems join
the start-up check's one message (app/config.py), except in debug: there the
server keeps running and shows them on every request, and the reloader
(watching ``content/**``, .flaskenv) restarts it at the next saved edit."""

from types import MappingProxyType

from flask import Flask
from flask import Response

from .content import Content
from .content import ContentError
from .content import load_content

_NEXT_STEP = (
    "Fix the files and save: the dev server restarts and serves the content. "
    "`flask content check` prints the same list; outside debug mode the site "
    "refuses to start with it."
)


def load(app: Flask) -> list[str]:
    """``CONTENT_DIR`` loaded into ``app.extensions["content"]``; its problems
    (none in debug, where every request answers with them instead)."""
    directory = app.config["CONTENT_DIR"]
    try:
        app.extensions["content"] = load_content(directory)
        return []
    except ContentError as error:
        problems = error.problems
    app.extensions["content"] = Content(site=None, pages=MappingProxyType({}))
    if not app.debug:
        return problems
    listed = [f"  - {problem}" for problem in problems]
    heading = "The content folder has problems:"
    report = "\n".join([heading, *listed, "", _NEXT_STEP, f"Folder: {directory}"])
    app.logger.error("%s", report)
    # Plain text, so it shows whatever state the content is in.
    headers = {"Cache-Control": "no-store"}
    app.before_request(lambda: Response(report, 500, headers, "text/plain"))
    return []
