"""Publishing the built book: where it lives (the repository, its GitHub Pages address), the
buttons that open a chapter elsewhere (Binder, Colab, a JupyterHub), and the links they carry.

The repository is never written into the sources: it is read where the book is built —
``BOOK_REPOSITORY`` (``owner/name``), else GitHub Actions' ``GITHUB_REPOSITORY``, else the
checkout's ``origin`` remote when it is on GitHub. Without one the book has no repository,
issue, edit or launch buttons (none that would lead nowhere). With one, :func:`site_config` adds
them to the Jupyter Book config the build uses, and :func:`point_launch_buttons_at_sources`
makes every button of a chapter name its source notebook ``notebooks/NN_….ipynb`` (the page is
built from the executed copy ``book/executed/NN_….ipynb``, which is not in the repository).
``BOOK_JUPYTERHUB_URL`` adds a JupyterHub button (a hub is the reader's own: none by default).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

EXECUTED = "book/executed/"
SOURCES = "notebooks/"
BRANCH = "main"
_GITHUB = re.compile(r"github\.com[:/]([\w.-]+/[\w.-]+?)(?:\.git)?/?$")


def repository(root: Path, env: Mapping[str, str] | None = None) -> str | None:
    """``owner/name`` of the book's GitHub repository, or None where the build cannot tell."""
    env = os.environ if env is None else env
    for key in ("BOOK_REPOSITORY", "GITHUB_REPOSITORY"):
        if env.get(key, "").count("/") == 1:
            return env[key].strip()
    try:
        url = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    m = _GITHUB.search(url)
    return m.group(1) if m else None


def site_config(config: dict, repo: str | None, env: Mapping[str, str] | None = None) -> dict:
    """``config`` (the book's ``_config.yml``) with, when ``repo`` is known: the repository (url,
    branch), ``html.baseurl`` (its GitHub Pages address), the repository, issue and edit buttons,
    and launch buttons for Binder and Colab (and a JupyterHub with ``BOOK_JUPYTERHUB_URL``)."""
    env = os.environ if env is None else env
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    if not repo:
        return out
    owner, name = repo.split("/")
    out["repository"] = {"url": f"https://github.com/{repo}", "branch": BRANCH, "path_to_book": ""}
    out["html"] = {**out.get("html", {}), "baseurl": f"https://{owner.lower()}.github.io/{name}/",
                   "use_repository_button": True, "use_issues_button": True, "use_edit_page_button": True}
    launch = {"notebook_interface": "jupyterlab", "binderhub_url": "https://mybinder.org",
              "colab_url": "https://colab.research.google.com"}
    if env.get("BOOK_JUPYTERHUB_URL"):
        launch["jupyterhub_url"] = env["BOOK_JUPYTERHUB_URL"]
    out["launch_buttons"] = launch
    return out


def point_launch_buttons_at_sources(html: Path) -> int:
    """Rewrite, in every built page, the launch, edit and source links (to Binder, Colab, a hub,
    the repository) that name an executed chapter (``book/executed/NN.ipynb``) to name its source
    (``notebooks/NN.ipynb``); the download of the executed notebook, a file of the build, stays.
    Returns how many links changed."""
    pattern = re.compile(r"((?:href|data-url)=\"https://[^\"]*?)" + re.escape(EXECUTED) + r"([\w-]+\.ipynb)")
    changed = 0
    for page in Path(html).rglob("*.html"):
        text = page.read_text(errors="replace")
        new, n = pattern.subn(lambda m: m.group(1) + SOURCES + m.group(2), text)
        if n:
            page.write_text(new)
            changed += n
    return changed


_LAUNCH = re.compile(r"https://(?:mybinder\.org/v2/gh/[^\"]+|colab\.research\.google\.com/github/[^\"]+|"
                     r"github\.com/[^\"]+/(?:edit|blob)/[^\"]+)")


def launch_links(html: Path) -> list[tuple[str, str]]:
    """Every launch, edit and view-source link of the built pages: ``(url, the repository file it
    names)``."""
    out = []
    for page in sorted(Path(html).rglob("*.html")):
        for url in set(_LAUNCH.findall(page.read_text(errors="replace"))):
            url = url.replace("&amp;", "&")
            path = re.search(r"(?:urlpath=(?:lab/tree/|tree/)|/(?:edit|blob)/[^/]+/)([^&?\"#]+)", url)
            out.append((url, path.group(1) if path else ""))
    return out
