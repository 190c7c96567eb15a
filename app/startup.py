"""Start-up failures that end the process with one readable message."""

from __future__ import annotations

from collections.abc import Iterable


class StartupError(SystemExit):
    """Stops the process with a message instead of a traceback.

    A SystemExit subclass, so ``flask run``, ``gunicorn`` and ``python`` all
    print just the message and exit with status 1.
    """

    def __init__(self, heading: str, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{heading}\n{lines}")
