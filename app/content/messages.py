"""Problems in the words of the person editing the YAML: what each problem
ruamel.yaml or pydantic finds means, and where, by section ids and 1-based
positions::

    es > section 3 "types-of-immunotherapy" > subsection 3 "cytokine-therapy"
    > bdy: unknown key; did you mean "body"?
"""

import difflib
from typing import Any
from typing import get_args
from typing import get_origin

from pydantic import BaseModel
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError
from typing_extensions import is_typeddict

Loc = tuple[str | int, ...]  # keys and (0-based) list positions

# --- YAML syntax: the line to look at, and what to check there. -------------

_UNCLOSED_QUOTE = (
    "a quote opened on this line is never closed; close it, or use the other "
    "kind of quote around text that holds one"
)
# The parser's words -> whether the line to name is where the trouble began
# (an open quote, a key with no colon) rather than where the parser noticed
# it, and what to check there.
_YAML_ADVICE = {
    "quoted scalar": (True, _UNCLOSED_QUOTE),
    "could not find expected ':'": (
        True,
        "this line needs a colon after its key (key: value), or a quote on it "
        "is not closed",
    ),
    "mapping values are not allowed": (
        False,
        "this line has a colon and a space inside a value; put the whole value "
        "in double quotes",
    ),
    "flow": (True, "a [ or { opened on this line is never closed"),
    "alias": (False, "this line has a value starting with * or &; put it in quotes"),
}
_CHECK = "check the quotes, colons and indentation"


def syntax_problem(file: str, text: str, error: MarkedYAMLError) -> tuple[int, str]:
    """The line, and the problem in plain words: where, and what to check."""
    lines = text.splitlines()
    index, advice = _yaml_advice(error, lines)
    if index < len(lines) and "\t" in lines[index]:
        advice = "this line has a tab; indent with spaces, not tabs"
    advice = advice.replace("this line", f"line {index + 1}")
    return index + 1, f"{file}:{index + 1}: not valid YAML: {advice}"


def _yaml_advice(error: MarkedYAMLError, lines: list[str]) -> tuple[int, str]:
    mark = error.problem_mark or error.context_mark
    noticed = mark.line if mark else 0
    if isinstance(error, DuplicateKeyError):  # marked where the second copy starts
        key = lines[noticed][mark.column :].split(":", 1)[0].strip()
        return noticed, (
            f"{key} on this line is already a key above it in the same group; "
            "keep one of the two"
        )
    began = error.context_mark.line if error.context_mark else noticed
    said = f"{error.problem} {error.context}"
    for words, (at_start, advice) in _YAML_ADVICE.items():
        if words in said:
            return (began if at_start else noticed), advice
    for index in range(began, min(noticed + 1, len(lines))):
        if lines[index].count('"') % 2:  # closed by a quote on a later line
            return index, _UNCLOSED_QUOTE
    if began < noticed:
        return noticed, (
            f"this line does not line up with the lines above it (from line "
            f"{began + 1}); {_CHECK} on this line and the one before"
        )
    return noticed, f"{_CHECK} on this line"


# --- Pydantic's errors: where, and what is wrong. ----------------------------

# List items named by 1-based position; others are "<key> item N".
_ITEM_NAMES = {"lead": "lead paragraph", "sources": "source", "locations": "location"}
_RENAMED = {"last_reviewed": "updated"}  # keys of older content: their new names
_NOT_KEYS = "must be a group of keys (key: value lines)"
_MESSAGES = {
    "missing": "missing",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
    "string_pattern_mismatch": "must be lowercase letters, digits and hyphens, "
    "such as side-effects",
    "tuple_type": "must be a list (lines starting with - )",
    "model_type": _NOT_KEYS,
    "dict_type": _NOT_KEYS,
    "url_scheme": "must start with https://",
    "url_parsing": "must be a full address, such as https://www.cancer.gov/",
    "date_from_datetime_inexact": "must be a date such as 2026-11-27",
}
_DATE_ERRORS = ("date_type", "date_parsing", "date_from_datetime_parsing")


def in_editors_words(
    model: type[BaseModel], errors: list[dict[str, Any]]
) -> list[tuple[Loc, str]]:
    """Each of pydantic's errors as where it is and what is wrong there."""
    # A step in angle brackets is a tag of models.Block's union, not a key.
    located = [
        (tuple(s for s in e["loc"] if not str(s).startswith("<")), e) for e in errors
    ]
    guesses = {
        loc: _guess(model, loc) for loc, e in located if e["type"] == "extra_forbidden"
    }
    # What a misspelt key was meant to be is not also missing or short of
    # items: say it once, with the guess.
    meant = {(*loc[:-1], guess) for loc, guess in guesses.items() if guess}
    return [
        (loc, _message(model, loc, e, guesses.get(loc)))
        for loc, e in located
        if loc not in meant
    ]


def locate(data: Any, loc: Loc) -> tuple[int, str]:
    """The line of the key or item at ``loc`` in ruamel.yaml's data (of what
    holds it when it is missing; 0 for none), and where it is in words:
    ``es > section 3 "types" > subsection 2 "vaccines" > heading``."""
    line, parts = 0, []
    sub = ""  # sections within sections are subsections
    for step in loc:
        try:
            lc = data.lc
            line = (lc.key(step) if isinstance(data, dict) else lc.item(step))[0] + 1
        except (AttributeError, LookupError, TypeError):
            pass  # not there, or a value with no lines (text, a number)
        data = _child(data, step)
        if type(step) is not int:  # a key (bool is an int, but a key here)
            parts.append(str(step))
            continue
        key = parts.pop() if parts else ""
        if key == "sections":
            name, sub = f"{sub}section", "sub"
        else:
            name = _ITEM_NAMES.get(key, f"{key} item".lstrip())
        ident = _child(data, "id") if key in ("sections", "locations") else None
        parts.append(
            f"{name} {step + 1}" + (f' "{ident}"' if isinstance(ident, str) else "")
        )
    return line, " > ".join(parts)


def _child(value: Any, step: str | int) -> Any:
    try:
        return value[step]
    except (LookupError, TypeError):
        return None


def _message(model: type[BaseModel], loc: Loc, error: dict, guess: str | None) -> str:
    kind = error["type"]
    if kind == "extra_forbidden" and guess and guess == _RENAMED.get(loc[-1]):
        return f'renamed: write "{guess}" instead'
    if kind == "extra_forbidden" and guess:
        return f'unknown key; did you mean "{guess}"?'
    if kind == "extra_forbidden":
        return f"unknown key; expected one of: {', '.join(_keys(model, loc[:-1]))}"
    if kind in _DATE_ERRORS:
        return f"must be a date such as 2026-11-27, not {error['input']!r}"
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}, not {error['input']!r}"
    # Our own checks (PydanticCustomError) already speak the editor's words.
    return _MESSAGES.get(kind) or error["msg"][0].lower() + error["msg"][1:]


def _guess(model: type[BaseModel], loc: Loc) -> str | None:
    """The key the editor probably meant instead of the unknown ``loc[-1]``."""
    allowed = _keys(model, loc[:-1])
    if _RENAMED.get(loc[-1]) in allowed:
        return _RENAMED[loc[-1]]
    return next(iter(difflib.get_close_matches(str(loc[-1]), allowed, n=1)), None)


def _keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the mapping at ``loc`` may hold, from the models' field types."""
    fields = _fields(model)
    for step in loc:
        if isinstance(step, str):  # at a list position, the item's fields are found
            fields = _fields(fields.get(step))
    return list(fields)


def _fields(annotation: Any) -> dict[str, Any]:
    """Key -> type of the first model or TypedDict within ``annotation``."""
    origin = get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, BaseModel):
        return {f.alias or n: f.annotation for n, f in origin.model_fields.items()}
    if is_typeddict(origin):
        return dict.fromkeys(origin.__annotations__)
    return next(filter(None, map(_fields, get_args(annotation))), {})
