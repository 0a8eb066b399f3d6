"""Instances as one JSON file: the pydantic dump of `Instance`, loaded and saved losslessly.

The JSON mirrors the schema field by field (`name`, `periods`, `units`, `arcs`, `groups`,
`regions`, `scenarios`), so a bad value is reported with its JSON path, for example
`units[2].initial_stock`, and the file it came from. The CSV loader reuses the same translation
of pydantic errors for the checks it leaves to the schema.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from decomposition.errors import InstanceError
from decomposition.instance import Instance

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


def instance_error_from_validation(error: ValidationError, source: str) -> InstanceError:
    """The first schema complaint as an InstanceError naming the file and the JSON path of the field."""
    first = error.errors(include_url=False)[0]
    field = json_path(first["loc"])
    problem = first["msg"]
    if not field:
        match = _PATH_PREFIX.match(problem)
        if match:
            field, problem = match["path"], match["problem"]
    elif isinstance(first.get("input"), (int, float, str, bool)) or first.get("input") is None:
        problem = f"{problem} (got {first.get('input')!r})"
    more = error.error_count() - 1
    if more:
        problem += f" ({more} more problem(s) after this one)"
    return InstanceError(f"{problem}; correct it and load again", source=source, field=field or None,
                         value=first.get("input"))


def load_json_instance(path: str | Path) -> Instance:
    """Read an instance saved by `save_json_instance` (or written by hand in the same shape)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstanceError("file not found; give the path of an instance .json file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InstanceError(f"cannot read the file ({exc})", source=str(path)) from None
    try:
        return Instance.model_validate_json(text)
    except ValidationError as exc:
        raise instance_error_from_validation(exc, str(path)) from None


def save_json_instance(instance: Instance, path: str | Path) -> Path:
    """Write the instance as indented JSON; `load_json_instance` gives back an equal instance."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(instance.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path
