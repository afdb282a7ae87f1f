"""One download helper: resumable, SHA-256 verified, atomic (temp file + rename), tqdm progress."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.request
from pathlib import Path

from tqdm import tqdm

CHUNK = 1 << 20


class DownloadFailed(ValueError):
    """The server could not be reached: the message names the URL and the offline way."""


def sha256_of(path: str | os.PathLike, gunzip: bool = False, algorithm: str = "sha256") -> str:
    """Hex digest of a file (of its decompressed content when ``gunzip``); SHA-256 by default."""
    h = hashlib.new(algorithm)
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: str | os.PathLike, sha256: str, *, gunzip_digest: bool = False,
             algorithm: str = "sha256", timeout: float = 60.0, progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` unless ``dest`` already exists with the expected digest.

    The bytes go to ``dest + '.part'`` (resumed with an HTTP Range request when a partial
    file is there), are verified, then renamed onto ``dest``. On a digest mismatch the file
    is moved aside to ``dest + '.bad'`` (never used) and ValueError names the URL and both
    digests. ``gunzip_digest``: ``sha256`` is the digest of the gunzipped content.
    ``algorithm``: another hashlib name where the publisher gives no SHA-256 (COCO: MD5).
    """
    dest = Path(dest)
    if dest.is_file() and sha256_of(dest, gunzip_digest, algorithm) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except (OSError, ValueError) as exc:  # refused, unreachable, timed out, HTTP error: one line
        reason = getattr(exc, "reason", None) or exc
        raise DownloadFailed(f"cannot download {url} ({reason}); offline: put the file at {dest} "
                             f"yourself (it is checked against its digest), or drop --download and "
                             f"point --root at a folder that already holds the data") from None
    with resp:
        resumed = have > 0 and getattr(resp, "status", 200) == 206
        total = resp.headers.get("Content-Length")
        total = int(total) + (have if resumed else 0) if total else None
        with open(part, "ab" if resumed else "wb") as out, tqdm(
            total=total, initial=have if resumed else 0, unit="B", unit_scale=True,
            desc=dest.name, disable=not progress,
        ) as bar:
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    try:
        got = sha256_of(part, gunzip_digest, algorithm)
    except (OSError, EOFError) as exc:  # e.g. not a gzip file
        got = f"unreadable ({exc})"
    if got != sha256:
        bad = dest.with_name(dest.name + ".bad")
        shutil.move(part, bad)
        name = {"sha256": "SHA-256", "md5": "MD5"}.get(algorithm, algorithm)
        raise ValueError(
            f"download: {url} → {name} mismatch (expected {sha256}, got {got}); "
            f"the file was kept aside as {bad} and not used"
        )
    os.replace(part, dest)
    return dest
