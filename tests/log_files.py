"""Reading logs that a server writes a moment later (nginx buffers its access log)."""

from __future__ import annotations

import time
from pathlib import Path


def wait_for_line(path: Path, text: str, timeout: float = 5) -> str:
    """The log once ``text`` is in it; fail with the log after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    log = ""
    while time.monotonic() < deadline:
        log = path.read_text() if path.exists() else ""
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {path}:\n{log}")
