"""The bare-Flask reference for ``make bench``: what a Python site can reach at best.

It answers every path with the bytes of our topic page (saved by the bench in
``BENCH_PAGE_HTML``), from one template compiled at start-up: a Flask render
with no routing rules, extensions or hooks of ours around it.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from flask import render_template

app = Flask(__name__)
# {% raw %}: the page is served as it is, whatever braces it contains.
_html = Path(os.environ["BENCH_PAGE_HTML"]).read_text("utf-8")
_template = app.jinja_env.from_string("{% raw %}" + _html + "{% endraw %}")


@app.route("/<path:path>")
def page(path: str) -> str:
    """The saved page, rendered from the precompiled template."""
    return render_template(_template)
