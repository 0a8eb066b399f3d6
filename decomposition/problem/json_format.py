"""Instances as one JSON file: the pydantic dump of `Instance`, loaded and saved losslessly.

The JSON mirrors the schema field by field (`name`, `periods`, `units`, `arcs`, `groups`,
`regions`, `scenarios`), so a bad value is reported with its JSON path, for example
`units[2].initial_stock`, and the file it came from. A key given twice in one object, a
document that is not an object, and nesting too deep to be an instance are refused before the
schema sees them. The CSV loader reuses the same translation
of pydantic errors for the checks it leaves to the schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from decomposition.errors import InstanceError, shortened
from decomposition.problem.instance import FieldProblem, Instance

# Messages of the schema's model validator start with the path they are about: "arcs[3].target: ...".
_PATH_PREFIX = re.compile(r"^(?:Value error, )?(?P<path>[\w\[\]'. -]+?): (?P<problem>.+)$", re.DOTALL)


def json_path(loc: Sequence[str | int]) -> str:
    """A pydantic error location as a JSON path: ('units', 2, 'storage') -> 'units[2].storage'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def field_of(error: dict) -> str:
    """The JSON path of one pydantic error (an item of `ValidationError.errors()`), including the
    path a whole-instance check gives (`FieldProblem`), which pydantic itself does not put in `loc`:
    ('body', 'instance') + 'scenarios[1].id' -> 'body.instance.scenarios[1].id'."""
    cause = error.get("ctx", {}).get("error")
    extra = cause.path if isinstance(cause, FieldProblem) else ""
    return ".".join(p for p in (json_path(error["loc"]), extra) if p)


def instance_error_from_validation(error: ValidationError, source: str) -> InstanceError:
    """The first schema complaint as an InstanceError naming the file and the JSON path of the field."""
    first = error.errors(include_url=False)[0]
    field = json_path(first["loc"])
    problem = first["msg"].removeprefix("Value error, ")
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, FieldProblem):  # a whole-instance check: its path, under the failing model's own
        field = field_of(first)
        problem = cause.problem
        first = {**first, "input": cause.value}
        if isinstance(cause.value, (int, float, str)) and str(cause.value) not in problem:
            problem = f"{problem} (got {shortened(repr(cause.value))})"
    elif not field:
        match = _PATH_PREFIX.match(problem)
        if match:
            field, problem = match["path"], match["problem"]
    elif isinstance(first.get("input"), (int, float, str, bool)) or first.get("input") is None:
        problem = f"{problem} (got {shortened(repr(first.get('input')))})"
    more = error.error_count() - 1
    if more:
        problem += f" ({more} more problem(s) after this one)"
    return InstanceError(
        f"{problem}; correct it and load again", source=source, field=field or None, value=first.get("input")
    )


def load_json_instance(path: str | Path) -> Instance:
    """Read an instance saved by `save_json_instance` (or written by hand in the same shape)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstanceError("file not found; give the path of an instance .json file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError(f"cannot read the file ({exc})", source=str(path)) from None
    return parse_json_instance(text, str(path))


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    seen: set[str] = set()
    for key in keys:
        if key in seen:  # a JSON parser keeps one of the two silently: which the author meant is unknown
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(key)


def repeated_key(text: str | bytes) -> str | None:
    """The first key given twice in one object of the JSON `text`, or None (also for text that is not
    JSON: its parser says what is wrong with it). For parsers that keep the later value silently."""
    try:
        json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        return exc.key
    except (ValueError, RecursionError):
        return None
    return None


def parse_json_instance(text: str, source: str) -> Instance:
    """The instance in a JSON text, or an InstanceError naming `source` and the field.

    Parsed by the standard library first, to refuse what pydantic's parser lets through: a key
    given twice in one object (the later value would silently win). NaN, Infinity and numbers
    too large for a float parse to float NaN / inf, which the schema refuses naming the field.
    """
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except _DuplicateKey as exc:
        raise InstanceError(
            f"the key '{exc.key}' appears twice in one object; keep one", source=source, field=exc.key, value=exc.key
        ) from None
    except json.JSONDecodeError as exc:
        raise InstanceError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", source=source, row=exc.lineno
        ) from None
    except RecursionError:
        raise InstanceError("the JSON is nested too deeply to be an instance", source=source) from None
    except ValueError:  # Python refuses to convert integers of more than 4300 digits
        raise InstanceError(
            "a number has thousands of digits; no count in an instance is that large", source=source
        ) from None
    if not isinstance(data, dict):
        raise InstanceError(
            f"the JSON holds {type(data).__name__ if data is not None else 'null'}, not an "
            'instance object {"periods": ..., "units": ..., "scenarios": ...}',
            source=source,
        )
    try:
        return Instance.model_validate(data)
    except ValidationError as exc:
        raise instance_error_from_validation(exc, source) from None


def save_json_instance(instance: Instance, path: str | Path) -> Path:
    """Write the instance as indented JSON; `load_json_instance` gives back an equal instance."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(instance.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path
