"""Run the Nu HTML Checker (vnu.jar) once over many documents."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import unquote
from urllib.parse import urlparse


def check_html(
    jar: Path, documents: dict[str, bytes], workdir: Path
) -> dict[str, list[str]]:
    """The checker's errors for each document, keyed by name (one JVM start for all)."""
    files = {}
    for name, body in documents.items():
        path = workdir / f"{name}.html"
        path.write_bytes(body)
        files[path.resolve()] = name
    result = subprocess.run(
        [
            "java",
            # A short run: the quick compiler and the serial collector take
            # half the CPU of the defaults (2 cores here); the quick
            # compiler's code needs a deeper stack for the HTML schema.
            "-Xss4m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-jar",
            str(jar),
            "--errors-only",
            "--format",
            "json",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    # vnu writes its JSON report to stderr, and exits 1 when it found errors.
    try:
        report = json.loads(result.stderr)
    except json.JSONDecodeError:
        raise AssertionError(
            f"vnu gave no report (exit {result.returncode}):\n{result.stderr[-2000:]}"
        ) from None
    errors: dict[str, list[str]] = {name: [] for name in documents}
    for message in report["messages"]:
        # "error", or "non-document-error" (e.g. a file it could not read).
        if message["type"] == "info":
            continue
        name = files.get(Path(unquote(urlparse(message.get("url", "")).path)).resolve())
        where = f"line {message['lastLine']}: " if "lastLine" in message else ""
        extract = message.get("extract", "").strip().replace("\n", " ")
        errors.setdefault(name or "?", []).append(
            f"{where}{message['message']}" + (f"  [{extract}]" if extract else "")
        )
    return errors
