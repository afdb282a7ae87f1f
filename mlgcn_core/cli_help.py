"""``train --set``'s help: every field of :class:`~mlgcn_core.config.ExperimentConfig` (and
``outfits.*`` of :class:`~mlgcn_core.data.outfits.OutfitsConfig`) with its type, its default and
the comment beside it in the source — generated from the dataclasses, so it cannot go stale."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize


def field_comments(cls) -> dict[str, str]:
    """``{field: comment}`` from the source of the dataclass ``cls``: the comment on the field's line
    and the comment lines continuing it (indented further, or starting with "("), else the comment
    block right above the field. Section rulers (``# --- …``) belong to no field."""
    src = textwrap.dedent(inspect.getsource(cls))
    comments = {t.start[0]: t.string.lstrip("#") for t in tokenize.generate_tokens(io.StringIO(src).readline)
                if t.type == tokenize.COMMENT}
    names = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, list[str]] = {}
    pending: list[str] = []
    last = None
    for i, line in enumerate(src.splitlines(), 1):
        m = re.match(r" {4}(\w+)\s*:", line)
        if m and m.group(1) in names:
            last = m.group(1) if i in comments else None
            out[m.group(1)] = pending + ([comments[i].strip()] if i in comments else [])
            pending = []
        elif line.strip().startswith("#") and i in comments:
            raw = comments[i]
            text = raw.strip()
            if text.startswith("---"):
                pending, last = [], None
            elif last and (raw.startswith("  ") or text.startswith("(")):
                out[last].append(text)
            else:
                pending.append(text)
                last = None
        else:
            pending, last = [], None
    return {k: " ".join(v) for k, v in out.items() if v}


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def field_rows() -> list[tuple[str, str, str, str]]:
    """``(name, type, default, comment)`` of every field ``--set`` accepts, in the dataclass's order;
    each embedded benchmark's settings (``outfits``, ``coco_shaped``) are spelled out as their
    ``<benchmark>.<field>`` entries."""
    from .config import ExperimentConfig
    from .data.catalog import SCENE_FIELDS

    rows = []
    for cls, prefix in ((ExperimentConfig, ""), *((c, f"{n}.") for n, c in SCENE_FIELDS.items())):
        notes = field_comments(cls)
        for f in dataclasses.fields(cls):
            if f.name in SCENE_FIELDS and cls is ExperimentConfig:
                continue
            rows.append((prefix + f.name, str(f.type), repr(_default(f)), notes.get(f.name, "")))
    return rows


def fields_help(width: int = 110) -> str:
    """The table of :func:`field_rows` as ``train --help`` prints it."""
    rows = field_rows()
    wn, wt, wd = (max(len(r[k]) for r in rows) for k in range(3))
    lead = 2 + wn + 2 + wt + 2 + wd + 2
    lines = ["fields for --set FIELD=VALUE (VALUE is YAML: --set tau=0.3 --set lr_steps=[15,25]",
             "--set data_root=null); defaults are the dataclass's, a --preset may change them",
             "(see 'presets'):", ""]
    for name, tp, default, note in rows:
        head = f"  {name:<{wn}}  {tp:<{wt}}  {default:<{wd}}"
        if not note:
            lines.append(head.rstrip())
            continue
        if width - lead < 30:  # too narrow for a column: the comment on its own lines
            lines.append(head.rstrip())
            lines += textwrap.wrap(note, width, initial_indent="      ", subsequent_indent="      ")
            continue
        wrapped = textwrap.wrap(note, width - lead)
        lines.append(f"{head}  {wrapped[0]}")
        lines += [" " * lead + w for w in wrapped[1:]]
    return "\n".join(lines)


def add_fields_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give ``parser`` (the ``train`` command's) the field table as its epilog, built only when the
    help is printed (other commands do not pay for the config's imports)."""
    plain = parser.format_help

    def format_help() -> str:
        parser.epilog = fields_help()
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return plain()

    parser.format_help = format_help  # type: ignore[method-assign]
    return parser
