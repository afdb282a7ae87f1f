"""``NAME=VALUE`` arguments of the command line and the book (``--set``, ``-p``, ``--fallback``):
parsed here, outside the config, which takes the resulting dicts."""

from __future__ import annotations

import yaml


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
            out[name] = value if raw else yaml.safe_load(value)
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
