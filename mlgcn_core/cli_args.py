"""``NAME=VALUE`` arguments of the command line and the book (``--set``, ``-p``, ``--fallback``):
parsed here, outside the config, which takes the resulting dicts."""

from __future__ import annotations

import re

import yaml


class _Loader(yaml.SafeLoader):
    """YAML 1.1's safe loader, reading ``1e-3`` as a float as YAML 1.2 and Python do (1.1 wants
    ``1.0e-3``; ``--set lr=1e-3`` would be the string "1e-3")."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))


def load_yaml(text: str):
    """The one YAML reader of the project's own files and arguments (presets, profiles, sweep
    files, ``NAME=VALUE``): safe, and ``1e-3`` is a float."""
    return yaml.load(text, Loader=_Loader)


def parse_assignments(items: list[str], what: str = "parameter", raw: bool = False) -> dict:
    """The one ``NAME=VALUE`` parser (config overrides, book parameters, sweep parameters,
    ``--fallback CLASS=PHRASE``): ``{name: value}``, values parsed as YAML (``seeds=[0,1]``,
    ``tau=0.3``) unless ``raw``. NAME is an identifier (dotted for ``outfits.n_train``) unless ``raw``."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        ok = bool(name.strip()) if raw else all(part.isidentifier() for part in name.split("."))
        if not sep or not ok:
            raise ValueError(f"{what} {item!r}: expected NAME=VALUE")
        try:
            out[name] = value if raw else load_yaml(value)
        except yaml.YAMLError as exc:
            raise ValueError(f"{what} {item!r}: the value is not valid YAML ({exc.problem})") from None
    return out


def group_dotted(values: dict, into: dict | None = None) -> dict:
    """``{"config.tau": 0.3, "seeds": [0]}`` → ``{"config": {"tau": 0.3}, "seeds": [0]}``, merged
    into a copy of ``into`` (a dotted name adds to the dict there; the name is split at its first
    dot, so ``config.outfits.n_train`` sets ``config["outfits.n_train"]``)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (into or {}).items()}
    for name, value in values.items():
        head, dot, rest = name.partition(".")
        if dot:
            if not isinstance(out.get(head, {}), dict):
                raise ValueError(f"parameter {name!r}: {head!r} is not a mapping ({out[head]!r})")
            out.setdefault(head, {})[rest] = value
        else:
            out[name] = value
    return out
