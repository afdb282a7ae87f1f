"""Command line: ``python -m mlgcn_core {data,train,book} …``.

* ``data [--check] [--path DIR]`` — locate (or download, SHA-256 checked) Fashion-MNIST; print its folder.
* ``train [--set FIELD=VALUE …] [--force]`` — run one experiment (config fields of
  :class:`mlgcn_core.config.ExperimentConfig`; ``data.n_train=…`` sets benchmark fields), print metrics.
* ``book …`` — execute the notebooks and build the HTML book (see ``mlgcn_core.book``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import yaml


def _cmd_data(args) -> int:
    from .data import fashion_mnist

    try:
        print(fashion_mnist.locate(args.path, allow_download=not args.check))
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def config_from_overrides(items: list[str]):
    """ExperimentConfig with ``FIELD=VALUE`` overrides (values parsed as YAML)."""
    from .config import ExperimentConfig

    cfg = ExperimentConfig()
    data_changes, changes = {}, {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE")
        target = data_changes if name.startswith("data.") else changes
        target[name.removeprefix("data.")] = yaml.safe_load(value)
    known = {f.name for f in dataclasses.fields(ExperimentConfig)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ValueError(f"--set: unknown config field(s) {unknown}; known: {sorted(known)}")
    if data_changes:
        changes["data"] = dataclasses.replace(cfg.data, **data_changes)
    return cfg.replace(**changes)


def _cmd_train(args) -> int:
    from .metrics import metric_keys
    from .train import run_experiment

    cfg = config_from_overrides(args.set)
    r = run_experiment(cfg, force=args.force)
    print(json.dumps({"run": str(r.path), "reused": r.reused, "best_epoch": r.best_epoch,
                      **{k: round(r.metrics[k], 3) for k in metric_keys()}}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mlgcn_core", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="locate or download Fashion-MNIST")
    d.add_argument("--check", action="store_true", help="do not download; exit 1 when missing")
    d.add_argument("--path", default=None, help="folder with an existing copy")
    t = sub.add_parser("train", help="run one experiment")
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    t.add_argument("--force", action="store_true", help="recompute even if the run exists")
    sub.add_parser("book", help="execute notebooks and build the book", add_help=False)
    args, rest = ap.parse_known_args(argv)
    if args.cmd == "book":
        from .book import main as book_main

        return book_main(rest)
    if rest:
        ap.error(f"unrecognized arguments: {rest}")
    return {"data": _cmd_data, "train": _cmd_train}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
