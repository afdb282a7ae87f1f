"""The book's Environment page: commit (dirty or not), the lock's hash, the locked versions."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
import yaml

from mlgcn_core.book.environment import (
    ENVIRONMENT,
    environment_markdown,
    git_commit,
    locked_pins,
    write_environment,
)
from mlgcn_core.paths import PROJECT_ROOT

LOCK = "alpha==1.0\n# a comment\nBeta_Pkg==2.0 ; python_version >= '3.11'\n--index-url https://x\ngamma==3\n"


def test_the_page_lists_commit_lock_hash_and_versions(tmp_path):
    (tmp_path / "requirements.lock").write_text(LOCK)
    have = {"alpha": "1.0", "Beta_Pkg": "2.1", "mlgcn-core": "0.1.0"}
    text = environment_markdown(tmp_path, installed=have.get, commit="abc123")
    assert "| commit | `abc123` |" in text
    assert f"`{hashlib.sha256(LOCK.encode()).hexdigest()}`" in text
    assert "| alpha | 1.0 | 1.0 |" in text and "| Beta_Pkg | 2.0 | 2.1 ≠ |" in text
    assert "| gamma | 3 | not installed ≠ |" in text
    assert "3 packages are pinned in `requirements.lock`; **2 installed version(s) differ" in text
    assert "| mlgcn-core | 0.1.0 |" in text and "| Python | 3." in text
    same = environment_markdown(tmp_path, installed={"alpha": "1.0", "Beta_Pkg": "2.0", "gamma": "3"}.get,
                                commit="not a git checkout")
    assert "every one is installed at its pinned version" in same and "≠" not in same
    assert "| commit | not a git checkout |" in same


def test_locked_pins_of_the_project_lock():
    assert locked_pins(LOCK) == [("alpha", "1.0"), ("Beta_Pkg", "2.0"), ("gamma", "3")]
    pins = dict(locked_pins((PROJECT_ROOT / "requirements.lock").read_text()))
    assert pins["torch"] and pins["pyyaml"] and len(pins) > 100


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_clean_dirty_and_not_a_checkout(tmp_path):
    assert git_commit(tmp_path) == "not a git checkout"
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (repo / "a.txt").write_text("1\n")
    git("add", "a.txt")
    git("commit", "-qm", "one")
    sha = git("rev-parse", "HEAD")
    assert git_commit(repo) == sha
    (repo / "a.txt").write_text("2\n")
    assert git_commit(repo) == f"{sha} (dirty: 1 changed or new file(s))"
    (repo / "sub").mkdir()
    assert git_commit(repo / "sub").startswith("not a git checkout (the book's folder lies inside")


def test_the_page_is_in_the_book_and_written_at_build_time(tmp_path):
    toc = (PROJECT_ROOT / "_toc.yml").read_text()
    assert "book/environment" in [c["file"] for p in yaml.safe_load(toc)["parts"] for c in p["chapters"]]
    assert "{include} _generated/environment.md" in (PROJECT_ROOT / "book" / "environment.md").read_text()
    shutil.copy(PROJECT_ROOT / "requirements.lock", tmp_path / "requirements.lock")
    out = write_environment(tmp_path / "out", tmp_path)
    assert out == tmp_path / "out" / ENVIRONMENT
    text = out.read_text()
    assert "| commit | not a git checkout |" in text and "| torch | " in text
