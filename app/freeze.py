"""``flask freeze``: every document nginx serves, requested from the app and
written to ``build/``, each text file with .br and .gz copies at the best
levels, once, so no request pays for compression. The form, the redirects
and the health checks stay with the app.
"""

import gzip
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import brotli
import click
from flask import Flask
from flask import current_app
from flask.cli import with_appcontext
from flask_frozen import Freezer
from flask_frozen import MissingURLGeneratorWarning

from .errors import STATIC_URLS
from .static_files import MANIFEST

# Page files have no extension (/en/immunotherapy); images are already compressed.
TEXT_SUFFIXES = {"", ".html", ".css", ".js", ".xml", ".txt", ".svg", ".json"}
# Documents whose rules are plain paths (a rule per language if localized);
# the not-found pages are nginx's error_page for 404.
FROZEN_ENDPOINTS = {
    "pages.page",
    "pages.wallet_card",
    "pages.sitemap",
    "pages.robots",
    "service_worker.worker",
    "not_found_page",
}
ENCODINGS = {
    ".gz": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
    ".br": lambda data: brotli.compress(data, quality=11),
}


def site_paths(app: Flask) -> Iterator[str]:
    """The path of every document nginx serves from the build: paths, as
    Frozen-Flask's ``url_for`` runs in a request for "localhost", which
    TRUSTED_HOSTS rightly refuses."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in FROZEN_ENDPOINTS:
            yield rule.rule
    yield from STATIC_URLS  # nginx's own error pages, never linked
    # Each static file the pages link: a digested file's content-hashed copy
    # (app/static_files.py), never its plain name or the manifest.
    folder = Path(app.static_folder)
    manifest = folder / MANIFEST
    digested = json.loads(manifest.read_text()) if manifest.is_file() else {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != MANIFEST and name not in digested:
            yield f"{app.static_url_path}/{name}"


def precompress(build: Path) -> None:
    """Write each text file's .gz and .br copies, when smaller."""
    for path in sorted(build.rglob("*")):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        data = path.read_bytes()
        for suffix, compress in ENCODINGS.items():
            if len(compressed := compress(data)) < len(data):
                # Renamed into place, so nginx never reads half a file (a
                # leftover is an extra file the next freeze removes).
                temporary = path.with_name(f".{path.name}{suffix}.tmp")
                temporary.write_bytes(compressed)
                temporary.replace(path.with_name(path.name + suffix))


@click.command("freeze")
@click.option(
    "--destination",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("build"),
    show_default=True,
    help="Folder to write; Frozen-Flask owns it and removes stale files.",
)
@with_appcontext
def freeze_command(destination: Path) -> None:
    """Write the content pages, the wallet card, sitemap, robots.txt, error
    pages and static files, each text file with its .br and .gz copies.

    Absolute URLs come from SITE_URL (FLASK_SITE_URL).
    """
    app = current_app._get_current_object()
    build = destination.resolve()
    # Frozen-Flask deletes every file of the folder it did not write: never
    # let a mistyped --destination empty a folder that is not a build.
    if any(build.glob("*")) and not (build / "sitemap.xml").is_file():
        raise click.ClickException(
            f"{build} is not empty and holds no earlier build; "
            "choose an empty or new folder"
        )
    app.config.update(
        FREEZER_DESTINATION=str(build),
        # The one public address: frozen pages are what the app serves there.
        FREEZER_BASE_URL=app.config["SITE_URL"],
        # Earlier .gz and .br copies go too, so none is stale.
        FREEZER_REMOVE_EXTRA_FILES=True,
    )
    freezer = Freezer(
        app, with_static_files=False, with_no_argument_rules=False, log_url_for=False
    )
    freezer.register_generator(lambda: site_paths(app))
    with warnings.catch_warnings():
        # It names every endpoint with nothing frozen, the form's included;
        # tests/test_freeze.py checks the build against the sitemap instead.
        warnings.simplefilter("ignore", MissingURLGeneratorWarning)
        urls = freezer.freeze()
    precompress(build)
    click.echo(f"Froze {len(urls)} files into {destination}")
