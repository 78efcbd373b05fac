"""Reading the TOML files users write (configs, mappings, vocabularies) with one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from kg.errors import KGError

__all__ = ["read_toml", "check_types"]


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The parsed TOML file ``path``; a :class:`KGError` naming it and ``what`` it should be otherwise
    (missing, a folder or pipe, not UTF-8, not TOML)."""
    path = Path(path)
    if not path.exists():
        raise KGError(f"{path}: {what} not found")
    if not path.is_file():
        raise KGError(f"{path}: {what} is {'a directory' if path.is_dir() else 'not a regular file'}, "
                      f"not a TOML file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise KGError(f"{path}: invalid TOML in the {what} ({err})") from None
    except UnicodeDecodeError as err:
        raise KGError(f"{path}: the {what} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise KGError(f"{path}: cannot read the {what} ({err.strerror})") from None


def check_types(cls: type, values: dict[str, Any], where: str) -> dict[str, Any]:
    """``values`` for dataclass ``cls`` with every value checked against its field's type (a
    :class:`KGError` naming ``where``, the key and the expected type otherwise); TOML arrays
    become tuples."""
    hints = get_type_hints(cls)
    out = dict(values)
    for key, value in values.items():
        expected = hints.get(key, Any)
        if not _fits(value, expected):
            raise KGError(f"{where}: {key!r} = {value!r} is not {_describe(expected)}")
        if isinstance(value, list):
            out[key] = tuple(value)
    return out


def _fits(value: Any, expected: Any) -> bool:
    """Whether a TOML value fits a dataclass field's type (numbers: int for float is fine)."""
    origin, args = get_origin(expected), get_args(expected)
    if expected is Any:
        return True
    if origin in (Union, UnionType):
        return any(_fits(value, a) for a in args)
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is str:
        return isinstance(value, str)
    if origin is tuple or expected is tuple:
        if not isinstance(value, (list, tuple)):
            return False
        item = args[0] if args else Any
        return all(_fits(v, item) for v in value)
    if origin is dict or expected is dict:
        return isinstance(value, dict)
    return isinstance(value, origin or expected)


def _describe(expected: Any) -> str:
    names = {bool: "a boolean (true or false)", int: "an integer", float: "a number", str: "a text",
             dict: "a table", type(None): "empty"}
    origin, args = get_origin(expected), get_args(expected)
    if origin in (Union, UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is tuple:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin is dict:
        return "a table"
    return names.get(expected, getattr(expected, "__name__", str(expected)))
