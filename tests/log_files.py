"""Reading logs that a server writes a moment later (nginx buffers its access log)."""

from __future__ import annotations

import re
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


# What a visitor typed, and where from: none of it may reach a log.
VISITOR_TRACES = ("Maria", "1958-03-27", "127.0.0.1")


def wait_for_lines(path: Path, count: int) -> str:
    """The log once it has ``count`` lines (nginx writes each a moment after
    its answer)."""
    deadline = time.monotonic() + 5
    while (text := path.read_text() if path.exists() else "").count("\n") < count:
        assert time.monotonic() < deadline, f"not {count} lines in {path}:\n{text}"
        time.sleep(0.05)
    return text


def assert_no_visitor_in(logs: Path, traces=VISITOR_TRACES) -> dict[str, str]:
    """Every log (``*.log``) under ``logs``, once none holds any of ``traces``.

    gunicorn's own "Listening at: http://127.0.0.1:..." start-up line names
    where it listens, not a visitor: it is the one line left out.
    """
    texts = {}
    for path in sorted(logs.rglob("*.log")):
        if path.is_file():
            text = path.read_text()
            text = re.sub(r".*Listening at: http://127\.0\.0\.1:\d+ .*\n", "", text)
            for trace in traces:
                assert trace not in text, f"{trace} in {path.name}:\n{text}"
            texts[path.name] = text
    return texts
