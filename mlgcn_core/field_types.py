"""A dataclass's fields checked against their declared types: the one check behind ``--set``,
presets, sweep grids and book parameters, which all build an ``ExperimentConfig``."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import fields


def _type_name(tp) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}, e.g. [30]"
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _fits(value, tp) -> bool:
    """``value`` has the type ``tp`` of a config field (int is accepted for float; bool is not
    an int; a list or tuple of ints for ``tuple[int, ...]``; a dict for a dataclass)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return isinstance(value, (list, tuple)) and all(_fits(v, typing.get_args(tp)[0]) for v in value)
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if dataclasses.is_dataclass(tp):
        return isinstance(value, (tp, dict))
    return isinstance(value, tp)


def check_field_types(obj, prefix: str = "") -> None:
    """Every field of the dataclass ``obj`` against its declared type: a ValueError naming the
    field, the value and the expected type (the one check behind ``--set``, presets, sweep grids
    and book parameters, which all build an :class:`ExperimentConfig`)."""
    check_values(type(obj), {f.name: getattr(obj, f.name) for f in fields(obj)}, prefix)


def check_values(cls, values: dict, prefix: str = "") -> None:
    """``{field: value}`` against the field types of the dataclass ``cls`` (see
    :func:`check_field_types`); names that are not fields are left to the caller."""
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        if name in hints and not _fits(value, hints[name]):
            raise ValueError(f"config field {prefix}{name}: {value!r} is not {_type_name(hints[name])}")
