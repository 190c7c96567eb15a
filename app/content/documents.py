"""One content file: its YAML data, where each key is, and its problems.

ruamel.yaml reads it: it keeps the line of every key and list item (``.lc``)
and refuses a key given twice in one mapping.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.error import YAMLError

from .messages import context
from .messages import in_editors_words
from .messages import syntax_problem
from .models import Loc

# Rules beyond a file's model (parity.py): YAML data -> pydantic errors.
Rules = Callable[[Any], list[dict[str, Any]]]


@functools.lru_cache(maxsize=16)
def _parse(text: str) -> Any:
    """The YAML data of ``text``; round-trip mode, so that its mappings and
    lists know their lines. Remembered by text: pure-Python ruamel.yaml takes
    ~50 ms for the content folder, and every app built (tests build hundreds)
    reads the same files. Nothing changes the data once read."""
    return YAML(typ="rt").load(text)


@dataclass
class Document:
    """A file as read, and its problems: (line, text), 0 for no line."""

    file: str
    data: Any = None
    problems: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path, root: Path) -> Document:
        """Parse ``path``; a syntax error is a problem, not an exception."""
        doc = cls(path.relative_to(root).as_posix())
        try:
            text = path.read_text(encoding="utf-8")
            doc.data = _parse(text)
        except MarkedYAMLError as error:
            doc.problems.append(syntax_problem(doc.file, text, error))
        except (OSError, UnicodeDecodeError, YAMLError) as error:
            reason = " ".join(str(error).split())
            doc.problems.append((0, f"{doc.file}: cannot be read: {reason}"))
        else:
            if doc.data is None:
                doc.problems.append((1, f"{doc.file}:1: the file is empty"))
        return doc

    def line(self, loc: Loc) -> int:
        """The line of the key or item at ``loc``; of what holds it when it is
        missing (a missing key has no line of its own); 0 for none."""
        line, node = 0, self.data
        for step in loc:
            try:
                lc = node.lc
                where = lc.key(step) if isinstance(node, dict) else lc.item(step)
                node = node[step]
            except (AttributeError, LookupError, TypeError):
                break  # not there, or a value with no lines (text, a number)
            line = where[0] + 1
        return line

    def problem(self, loc: Loc, message: str) -> None:
        """Record ``message`` about the key or item at ``loc``."""
        line = self.line(loc)
        place = f"{self.file}:{line}" if line else self.file
        text = ": ".join(filter(None, (place, context(self.data, loc), message)))
        self.problems.append((line, text))

    def validate(self, model: type[BaseModel], rules: Rules | None = None) -> Any:
        """The data as ``model``; None, with every problem (of the model and
        of ``rules``) recorded, if there is one."""
        if self.data is None:
            return None  # unreadable or empty: already a problem
        errors = rules(self.data) if rules else []
        try:
            value = model.model_validate(self.data)
        except ValidationError as error:
            errors, value = error.errors() + errors, None
        for loc, message in in_editors_words(model, errors):
            self.problem(loc, message)
        return None if errors else value

    def sorted_problems(self) -> list[str]:
        """The problems' texts in line order."""
        return [text for _, text in sorted(self.problems, key=lambda p: p[0])]
