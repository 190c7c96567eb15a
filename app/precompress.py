"""Write .gz and .br copies beside every text file of a frozen build.

nginx's gzip_static and brotli_static then send the copy the browser accepts,
so no request pays for compression, and the copies use the best (slowest)
levels once at build time. ``flask freeze`` (app/freeze.py) runs it last.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import brotli

# Page files have no extension (/en/immunotherapy); images are already compressed.
TEXT_SUFFIXES = {"", ".html", ".css", ".js", ".xml", ".txt", ".svg", ".json"}
ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
    ".br": lambda data: brotli.compress(data, quality=11),
}


def precompress(build: Path) -> int:
    """Compress every text file of ``build``; return how many copies were written.

    A copy that would not be smaller is not written, and copies whose file is
    gone (or no longer smaller) are removed, so the folder never serves stale
    bytes.
    """
    written = 0
    for path in sorted(build.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix in ENCODINGS:
            if not path.with_suffix("").is_file():
                path.unlink()  # its file is gone
            continue
        if path.suffix not in TEXT_SUFFIXES:
            continue
        data = path.read_bytes()
        for suffix, compress in ENCODINGS.items():
            target = path.with_name(path.name + suffix)
            compressed = compress(data)
            if len(compressed) < len(data):
                _write_atomically(target, compressed)
                written += 1
            else:
                target.unlink(missing_ok=True)
    return written


def _write_atomically(target: Path, data: bytes) -> None:
    """Replace ``target`` in one step, so nginx never reads half a file."""
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".precompress-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)  # public, like the files it copies
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
