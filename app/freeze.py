"""``flask freeze``: the site's documents as static files, for nginx or a CDN.

Frozen-Flask requests each content page and the wallet card (both
languages), the sitemap, robots.txt, the not-found pages, nginx's own error
pages and every static file from the app, as ordinary requests, and writes
the responses to ``build/``. Pages keep extension-less names
(``build/en/immunotherapy``), served as text/html. Then every text file gets
its .br and .gz copies (app/precompress.py). The form, its POST, the
redirects and the health checks stay with the app.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext
from flask_frozen import Freezer
from flask_frozen import MissingURLGeneratorWarning
from werkzeug.routing import MapAdapter

from . import static_errors
from .content import LANGUAGES
from .precompress import precompress
from .static_files import MANIFEST

DEFAULT_DESTINATION = Path("build")


def site_paths(app: Flask) -> Iterator[str]:
    """The path of every document nginx serves from the build.

    Built with the URL map bound to SITE_URL's host rather than ``url_for``:
    Frozen-Flask calls ``url_for`` in a request for "localhost", which
    TRUSTED_HOSTS rightly refuses.
    """
    urls = app.url_map.bind(urlsplit(app.config["SITE_URL"]).netloc)
    for page in app.extensions["content"].pages.values():
        for lang in page.slugs:
            yield urls.build("pages.page", {"page_id": page.id, "lang_code": lang})
    if app.extensions["content"].wallet_card is not None:
        for lang in LANGUAGES:
            yield urls.build("wallet_card.card", {"lang_code": lang})
    yield urls.build("pages.sitemap")
    yield urls.build("pages.robots")
    # The offline worker, with the list of what it keeps (app/service_worker.py).
    yield urls.build("service_worker.worker")
    for lang in LANGUAGES:  # nginx's error_page for 404, one per language
        yield urls.build("not_found_page", {"lang_code": lang})
    for code in static_errors.CODES:  # nginx's own error pages, never linked
        yield urls.build("static_errors.page", {"code": code})
    yield from _static_paths(app, urls)


def _static_paths(app: Flask, urls: MapAdapter) -> Iterator[str]:
    """Each static file the pages link: the content-hashed copy of a digested
    file (app/static_files.py), never its plain name or the manifest."""
    folder = Path(app.static_folder or "")
    manifest = folder / MANIFEST
    digested = json.loads(manifest.read_text()) if manifest.is_file() else {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != MANIFEST and name not in digested:
            yield urls.build("static", {"filename": name})


def freeze(app: Flask, destination: Path) -> list[str]:
    """Write the site's static files into ``destination``; return their URLs."""
    destination = Path(destination).resolve()
    # Frozen-Flask deletes every file of the folder it did not write: never
    # let a mistyped --destination empty a folder that is not a build.
    if any(destination.glob("*")) and not (destination / "sitemap.xml").is_file():
        raise click.ClickException(
            f"{destination} is not empty and holds no earlier build; "
            "choose an empty or new folder"
        )
    # Frozen-Flask takes its arguments through the config; these two are
    # this run's (the others are in config.DEFAULTS).
    app.config.update(
        FREEZER_DESTINATION=str(destination),
        # The one public address: frozen pages are what the app serves there.
        FREEZER_BASE_URL=app.config["SITE_URL"],
    )
    freezer = Freezer(
        app, with_static_files=False, with_no_argument_rules=False, log_url_for=False
    )
    freezer.register_generator(lambda: site_paths(app))
    with warnings.catch_warnings():
        # It names every endpoint with nothing frozen, and the form, redirects
        # and health checks are meant to stay with the app. What must be in the
        # build is checked by tests/test_freeze.py against the sitemap.
        warnings.simplefilter("ignore", MissingURLGeneratorWarning)
        urls = sorted(freezer.freeze())
    precompress(destination)
    return urls


@click.command("freeze")
@click.option(
    "--destination",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DESTINATION,
    show_default=True,
    help="Folder to write; Frozen-Flask owns it and removes stale files.",
)
@with_appcontext
def freeze_command(destination: Path) -> None:
    """Write the content pages, the wallet card, sitemap, robots.txt, error
    pages and static files, each text file with its .br and .gz copies.

    Absolute URLs come from SITE_URL (FLASK_SITE_URL).
    """
    urls = freeze(current_app._get_current_object(), destination)
    click.echo(f"Froze {len(urls)} files into {destination}")
