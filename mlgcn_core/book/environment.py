"""The book's "Environment" page: what a build ran with — the commit of the book's sources (and
whether the tree had changes), the SHA-256 of ``requirements.lock``, Python, and each locked
package's version as installed beside the lock's pin. Written at build time into
``book/_generated/environment.md`` (included by ``book/environment.md``), never typed in."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ENVIRONMENT = Path("book") / "_generated" / "environment.md"
LOCK = "requirements.lock"


def git_commit(root: Path) -> str:
    """``<sha>``, ``<sha> (dirty: …)`` when tracked or new files differ from it, or a sentence
    saying the tree is not a git checkout (or git is missing)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(root).resolve():
            return "not a git checkout (the book's folder lies inside another repository)"
        sha = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain").splitlines()
    except FileNotFoundError:
        return "unknown (git is not installed)"
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return "not a git checkout"
    if changed:
        return f"{sha} (dirty: {len(changed)} changed or new file(s))"
    return sha


def locked_pins(text: str) -> list[tuple[str, str]]:
    """``(name, version)`` of each ``name==version`` line of a lock file (comments, blanks, options
    and markers left out)."""
    pins = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].split(";", 1)[0].strip()
        name, sep, version = line.partition("==")
        if sep and name and not line.startswith("-"):
            pins.append((name.strip(), version.strip()))
    return pins


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_markdown(root: Path, installed=_installed, commit: str | None = None) -> str:
    """The page's text (``installed``: a package's installed version or None; ``commit``: as
    :func:`git_commit` says, computed when None)."""
    root = Path(root)
    lock = root / LOCK
    commit = git_commit(root) if commit is None else commit
    lines = ["| | |", "|---|---|",
             f"| commit | `{commit}` |" if not commit.startswith(("not ", "unknown")) else f"| commit | {commit} |"]
    if lock.is_file():
        data = lock.read_bytes()
        pins = locked_pins(data.decode())
        lines.append(f"| `{LOCK}` SHA-256 | `{hashlib.sha256(data).hexdigest()}` |")
    else:
        pins = []
        lines.append(f"| `{LOCK}` | not found |")
    lines += [f"| Python | {platform.python_version()} ({platform.python_implementation()}, "
              f"{sys.platform}, {platform.machine()}) |",
              f"| mlgcn-core | {installed('mlgcn-core') or 'not installed (run from the checkout)'} |", ""]
    if not pins:
        return "\n".join(lines) + "\n"
    rows = [(n, v, installed(n)) for n, v in pins]
    differ = [r for r in rows if r[2] != r[1]]
    lines.append(f"{len(rows)} packages are pinned in `{LOCK}`; "
                 + (f"**{len(differ)} installed version(s) differ from the lock** (marked ≠)."
                    if differ else "every one is installed at its pinned version."))
    lines += ["", "| package | locked | installed |", "|---|---|---|"]
    for name, want, have in rows:
        mark = "" if have == want else " ≠"
        lines.append(f"| {name} | {want} | {have or 'not installed'}{mark} |")
    return "\n".join(lines) + "\n"


def write_environment(out_root: Path, root: Path) -> Path:
    """``out_root/book/_generated/environment.md`` for the sources in ``root``."""
    from ..io import write_text

    out = Path(out_root) / ENVIRONMENT
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, environment_markdown(root))
    return out
