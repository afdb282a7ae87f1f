"""Command line: ``mlgcn …`` (the console script) or ``python -m mlgcn_core …``.

* ``data [--check] [--path DIR]`` — locate (or download, SHA-256 checked) Fashion-MNIST; print its folder.
* ``train [--preset NAME] [--set FIELD=VALUE …] [--resume] [--force]`` — run one experiment
  (fields of :class:`mlgcn_core.config.ExperimentConfig`; ``outfits.n_train=…`` sets benchmark
  fields); under ``torchrun --nproc_per_node=N`` it runs DDP.
* ``evaluate --checkpoint FILE [--split test]`` — all 13 metrics and the per-class AP table.
* ``predict --checkpoint FILE IMAGE …`` — each image's labels by probability, highest first.
* ``import-official --checkpoint FILE --dataset voc2007|coco2014 --out FILE`` — convert an
  official ML-GCN checkpoint.
* ``presets`` — list the named presets.
* ``sweep NOTEBOOK|SWEEP.yaml --grid NAME=V1,V2 … [-p NAME=VALUE] [--jobs N] [--executor local|ray]
  [--address ADDR] [--gpus-per-point N]`` — one papermill run per grid point (a local process pool
  pinned to the GPUs, or Ray tasks on a cluster) and a tidy table of all results (see
  ``mlgcn_core.book.sweep``).
* ``book …`` — execute the notebooks and build the HTML book (see ``mlgcn_core.book.build``).
* ``prepare {voc2007,coco2014,custom,coco_shaped} …`` — dataset files in the official formats
  (see ``mlgcn_core.prepare``).
* ``embed --classes FILE (--glove FILE | --provider NAME) --out FILE`` — label word vectors.
"""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_data(args) -> int:
    from .data import fashion_mnist

    try:
        print(fashion_mnist.locate(args.path, allow_download=not args.check))
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def config_from_overrides(items: list[str], preset: str = "default"):
    """The preset's ExperimentConfig with ``FIELD=VALUE`` overrides (values parsed as YAML)."""
    from .config import load_preset

    return load_preset(preset, items)


def _cmd_train(args) -> int:
    from . import distributed
    from .metrics import metric_keys
    from .selection import selection_label
    from .train import run_experiment

    cfg = config_from_overrides(args.set, args.preset)
    r = run_experiment(cfg, force=args.force, resume=args.resume)
    ctx = distributed.setup(cfg.device)
    if ctx.main:
        print(json.dumps({"run": str(r.path), "reused": r.reused, "best_epoch": r.best_epoch,
                          "selection": selection_label(cfg.selection),
                          **{k: round(r.metrics[k], 3) for k in metric_keys()}}, indent=2))
    distributed.cleanup(ctx)
    return 0


def _cmd_evaluate(args) -> int:
    from .inference import evaluate_checkpoint
    from .metrics import metric_keys

    m = evaluate_checkpoint(args.checkpoint, args.split, args.device, args.data_root)
    print(f"split: {args.split} (epoch: {m['selection']})")
    for k in metric_keys():
        print(f"{k:>9s} {m[k]:7.2f}")
    print("\nper-class AP")
    for c, ap in zip(m["classes"], m["AP"]):
        print(f"{c:>16s} {ap:7.2f}")
    return 0


def _cmd_predict(args) -> int:
    from .inference import predict_images

    for path, labels in zip(args.images, predict_images(args.checkpoint, args.images, args.device)):
        top = labels if args.top is None else labels[:args.top]
        print(f"{path}: " + ", ".join(f"{c} {p:.3f}" for c, p in top))
    return 0


def _cmd_import_official(args) -> int:
    from .inference import import_official

    out = import_official(args.checkpoint, args.dataset, args.out, args.word_vectors)
    print(f"wrote {out}")
    return 0


def _cmd_presets(args) -> int:
    import textwrap

    from .cli_args import load_yaml
    from .config import PRESET_DIR, load_preset, presets
    from .selection import selection_label

    for name in presets():
        d = load_yaml((PRESET_DIR / f"{name}.yaml").read_text())
        c = load_preset(name)
        print(f"{name}  ({c.dataset}, {c.backbone} @ {c.image_size}, {c.mode}; {c.epochs} epochs, lr {c.lr}, "
              f"scheme {c.scheme} p {c.p}; epoch: {selection_label(c.selection)})")
        print(textwrap.fill(" ".join(str(d.get("description", "")).split()), 100,
                            initial_indent="    ", subsequent_indent="    "))
    return 0


def _read_classes(path: str) -> list[str]:
    """Class names from a text file (one per line), a JSON list, or a ``{name: index}`` JSON."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"--classes {path!r} does not exist")
    if p.suffix.lower() == ".json":
        d = json.loads(p.read_text())
        if isinstance(d, dict):
            return sorted(d, key=d.get)
        if isinstance(d, list) and all(isinstance(x, str) for x in d):
            return d
        raise ValueError(f"{path}: expected a JSON list of names or {{name: index}}")
    names = [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]
    if not names:
        raise ValueError(f"{path}: no class names")
    return names


def _fallbacks(items: list[str]) -> dict[str, str]:
    from .cli_args import parse_assignments

    return parse_assignments(items, "--fallback", raw=True)


def _prepare_custom(prepare, args) -> dict:
    classes = _read_classes(args.classes) if args.classes else None
    return prepare.prepare_custom(args.csv, args.images, args.out, classes, args.seed, args.val_fraction,
                                  args.test_fraction, args.word_vectors, _fallbacks(args.fallback),
                                  args.skip_bad_images)


def _prepare_coco_shaped(prepare, args) -> dict:
    from .config import ExperimentConfig

    settings = ExperimentConfig().with_overrides([f"coco_shaped.{a}" for a in args.set]).coco_shaped
    return prepare.prepare_coco_shaped(args.out, settings, args.word_vectors)


# ``prepare <dataset>``: each dataset's preparation, by the sub-command's name
PREPARERS = {"voc2007": lambda prepare, a: prepare.prepare_voc2007(a.root, a.out, a.download),
             "coco2014": lambda prepare, a: prepare.prepare_coco2014(a.root, a.out, a.download),
             "custom": _prepare_custom, "coco_shaped": _prepare_coco_shaped}


def _cmd_prepare(args) -> int:
    from . import prepare

    m = PREPARERS[args.dataset](prepare, args)
    print(f"prepared {args.dataset} into {args.out}: classes {len(m['classes'])}, "
          f"images {m['counts']}")
    for f in m["files"] + [m["label_stats"]["file"], "manifest.json"]:
        print(f"  wrote {f}")
    for split, n in m.get("dropped_images_without_annotations", {}).items():
        print(f"  dropped {n} {split} image(s) without annotations")
    if m.get("skipped_images"):
        print(f"  skipped {len(m['skipped_images'])} bad image(s): "
              + "; ".join(s["reason"] for s in m["skipped_images"]))
    return 0


def _cmd_embed(args) -> int:
    from .embeddings import make_vectors
    from .io import save_array

    classes = _read_classes(args.classes)
    z = make_vectors(classes, args.glove or args.provider, _fallbacks(args.fallback))
    save_array(args.out, z)
    print(f"wrote {args.out}: {z.shape[0]} classes × {z.shape[1]} dims")
    return 0


def _cmd_sweep(args) -> int:
    from .book.sweep import main as sweep_main

    return sweep_main(args)


def main(argv: list[str] | None = None) -> int:
    from .cli_help import add_fields_help

    prog = "python -m mlgcn_core" if sys.argv[0].endswith("__main__.py") else "mlgcn"  # or the console script
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="locate or download Fashion-MNIST")
    d.add_argument("--check", action="store_true", help="do not download; exit 1 when missing")
    d.add_argument("--path", default=None, help="folder with an existing copy")
    t = sub.add_parser("train", help="run one experiment")
    t.add_argument("--preset", default="default", help="named preset or a .yaml file (see 'presets')")
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a config field (repeatable); every field, its type and default: below")
    add_fields_help(t)
    t.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    t.add_argument("--force", action="store_true", help="recompute even if the run exists")
    ev = sub.add_parser("evaluate", help="metrics of a checkpoint on a split")
    ev.add_argument("--checkpoint", required=True)
    ev.add_argument("--split", default="test", choices=["train", "val", "test"])
    ev.add_argument("--data-root", default=None, help="override the config's data_root")
    ev.add_argument("--device", default="cpu")
    pr = sub.add_parser("predict", help="labels of image files, by probability")
    pr.add_argument("--checkpoint", required=True)
    pr.add_argument("--top", type=int, default=None, help="show only the N most probable labels")
    pr.add_argument("--device", default="cpu")
    pr.add_argument("images", nargs="+")
    io_ = sub.add_parser("import-official", help="convert an official ML-GCN checkpoint")
    io_.add_argument("--checkpoint", required=True)
    io_.add_argument("--dataset", required=True, choices=["voc2007", "coco2014"])
    io_.add_argument("--word-vectors", default=None, help="pickle of (C, d) vectors (default: official)")
    io_.add_argument("--out", required=True)
    sub.add_parser("presets", help="list the named presets")
    sw = sub.add_parser("sweep", help="one papermill run per grid point, one tidy table")
    sw.add_argument("notebook", help="a notebook (path or name under notebooks/) or a sweep .yaml file")
    sw.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2,…")
    sw.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    sw.add_argument("--jobs", type=int, default=1, help="points run in parallel processes")
    sw.add_argument("--out", default=None, help="sweep folder (default: runs/sweeps/<name>)")
    sw.add_argument("--executor", default="local", choices=["local", "ray"],
                    help="local: a process pool here (GPU-pinned); ray: one Ray task per point")
    sw.add_argument("--address", default=None,
                    help="Ray cluster (auto or HOST:6379); none: a local cluster")
    sw.add_argument("--gpus-per-point", type=int, default=None,
                    help="GPUs of each point (default: 1 when GPUs are visible, else 0)")
    sw.add_argument("--cpus-per-point", type=int, default=1, help="CPUs of each Ray task (default 1)")
    sub.add_parser("book", help="execute notebooks and build the book", add_help=False)
    p = sub.add_parser("prepare", help="prepare VOC 2007, COCO 2014, your own data, or write the COCO-shaped benchmark")
    psub = p.add_subparsers(dest="dataset", required=True)
    for name in ("voc2007", "coco2014"):
        q = psub.add_parser(name)
        q.add_argument("--root", required=True, help="dataset folder (or where to download it)")
        q.add_argument("--download", action="store_true", help="fetch the official archives (checksummed)")
        q.add_argument("--out", required=True)
    q = psub.add_parser("custom")
    q.add_argument("--csv", required=True, help="CSV 'image,labels[,split]' or JSON list of {file_name, labels}")
    q.add_argument("--images", required=True, help="folder the image paths are relative to")
    q.add_argument("--out", required=True)
    q.add_argument("--classes", help="class list file (else inferred from the labels, sorted)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--val-fraction", type=float, default=0.1)
    q.add_argument("--test-fraction", type=float, default=0.1)
    q.add_argument("--word-vectors", default="glove6b50d", help="provider or GloVe file")
    q.add_argument("--fallback", action="append", default=[], metavar="CLASS=PHRASE")
    q.add_argument("--skip-bad-images", action="store_true", help="drop missing/corrupt images, report them")
    q = psub.add_parser("coco_shaped", help="write the embedded COCO-shaped benchmark as a prepared folder")
    q.add_argument("out", help="the folder to write (images, manifest.json, train_adj.pkl, …)")
    q.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a field of its settings (coco_shaped.<field> of train --help), e.g. --set n_train=2000")
    q.add_argument("--word-vectors", default="glove6b50d", help="provider or GloVe file")
    e = sub.add_parser("embed", help="word vectors for a class list (official pickle layout)")
    e.add_argument("--classes", required=True, help="text file (one name per line) or JSON")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--glove", help="GloVe .txt or .zip file")
    src.add_argument("--provider", help="glove6b50d, onehot, official:voc2007, official:coco2014")
    e.add_argument("--fallback", action="append", default=[], metavar="CLASS=PHRASE")
    e.add_argument("--out", required=True)
    args, rest = ap.parse_known_args(argv)
    if args.cmd == "book":
        from .book.build import main as book_main

        return one_line_errors(book_main, rest)
    if rest:
        ap.error(f"unrecognized arguments: {rest}")
    cmd = {"data": _cmd_data, "train": _cmd_train, "prepare": _cmd_prepare, "embed": _cmd_embed,
           "evaluate": _cmd_evaluate, "predict": _cmd_predict, "import-official": _cmd_import_official,
           "presets": _cmd_presets, "sweep": _cmd_sweep}[args.cmd]
    return one_line_errors(cmd, args)


def _line(text: str) -> str:
    """``text`` on one line (a message's continuation lines joined with "; ")."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def one_line_errors(fn, *args) -> int:
    """The one handler behind every subcommand (``book`` and ``python -m mlgcn_core.book``
    included): bad input — a ValueError / FileNotFoundError (config, data, run files, devices,
    a full disk: ``io.DiskFull``), a diverged run, an unreachable server, a ``SystemExit`` with a
    message — ends as one line ``error: …`` on stderr and exit status 2, never a traceback.
    Whatever was being written is removed by the writer (atomic files, prepare's temporary folder)."""
    import urllib.error

    try:
        return fn(*args)
    except (ValueError, FileNotFoundError, FloatingPointError, NotADirectoryError,
            IsADirectoryError, PermissionError) as exc:
        msg = str(exc) or type(exc).__name__
    except urllib.error.URLError as exc:  # a download: the URL is in the message (download.fetch)
        msg = f"network: {exc.reason}"
    except OSError as exc:
        import errno

        if exc.errno == errno.ENOSPC:
            msg = f"no space left on the device{f' writing {exc.filename}' if exc.filename else ''}"
        else:
            msg = f"{type(exc).__name__}: {exc}"
    except SystemExit as exc:
        if not isinstance(exc.code, str):
            raise
        msg = exc.code.removeprefix("error: ")
    print(f"error: {_line(msg)}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
