"""Publishing: the workflow that builds and deploys the book (checked against GitHub's schema,
offline), the repository the build reads from its environment, the buttons it adds, launch
buttons that open a chapter's source notebook, the Binder configuration and ``make publish``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from mlgcn_core.book import publish
from mlgcn_core.paths import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "book.yml"


def check_workflow(path: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_the_workflow_is_valid_and_a_broken_one_is_caught(tmp_path):
    """GitHub's workflow schema (vendored by check-jsonschema: no network) passes the workflow and
    fails the same file with a misspelt key."""
    assert check_workflow(WORKFLOW).returncode == 0
    bad = tmp_path / "bad.yml"
    bad.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:"))
    proc = check_workflow(bad)
    assert proc.returncode != 0 and "runs-on" in proc.stdout + proc.stderr


def test_the_workflow_builds_on_push_to_main_caches_and_deploys_the_html():
    wf = yaml.safe_load(WORKFLOW.read_text())
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]
    steps = wf["jobs"]["build"]["steps"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache"))
    assert cache["with"]["path"].split() == ["runs", ".cache", "book/executed"]
    assert "requirements.lock" in cache["with"]["key"] and "notebooks/**" in cache["with"]["key"]
    assert any(s.get("run") == "make book" for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert wf["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages")
    assert wf["permissions"]["pages"] == "write"


def test_the_repository_comes_from_the_environment_or_the_origin_remote(tmp_path):
    assert publish.repository(tmp_path, {"BOOK_REPOSITORY": "me/book"}) == "me/book"
    assert publish.repository(tmp_path, {"GITHUB_REPOSITORY": "org/mlgcn"}) == "org/mlgcn"
    assert publish.repository(tmp_path, {}) is None  # not a checkout: no buttons at all
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for url, want in (("git@github.com:someone/ml-gcn.git", "someone/ml-gcn"),
                      ("https://github.com/someone/ml-gcn", "someone/ml-gcn"),
                      ("https://gitlab.com/someone/ml-gcn.git", None)):
        subprocess.run(["git", "-C", str(tmp_path), "remote", "remove", "origin"], capture_output=True)
        subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", url], check=True)
        assert publish.repository(tmp_path, {}) == want, url


def test_site_config_adds_the_repository_pages_address_and_buttons_only_when_known():
    config = yaml.safe_load((PROJECT_ROOT / "_config.yml").read_text())
    assert publish.site_config(config, None, {}) == config
    site = publish.site_config(config, "Some-One/mlgcn", {"BOOK_JUPYTERHUB_URL": "https://hub.example.org"})
    assert site["repository"]["url"] == "https://github.com/Some-One/mlgcn"
    assert site["html"]["baseurl"] == "https://some-one.github.io/mlgcn/"
    assert site["html"]["use_repository_button"] and site["html"]["use_edit_page_button"]
    assert site["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert site["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert site["launch_buttons"]["jupyterhub_url"] == "https://hub.example.org"
    assert "jupyterhub_url" not in publish.site_config(config, "a/b", {})["launch_buttons"]
    assert config["html"] == yaml.safe_load((PROJECT_ROOT / "_config.yml").read_text())["html"]  # not mutated


def test_launch_buttons_are_pointed_at_the_source_notebooks(tmp_path):
    page = tmp_path / "book" / "executed" / "02_train.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        '<a href="https://mybinder.org/v2/gh/a/b/main?urlpath=lab/tree/book/executed/02_train.ipynb">b</a>'
        '<a href="https://colab.research.google.com/github/a/b/blob/main/book/executed/02_train.ipynb">c</a>'
        '<a href="https://github.com/a/b/edit/main/book/executed/02_train.ipynb">e</a>'
        '<a href="../../_sources/book/executed/02_train.ipynb">download</a>'
        '<a href="https://github.com/a/b/edit/main/book/intro.md">e</a>')
    assert publish.point_launch_buttons_at_sources(tmp_path) == 3
    links = dict(publish.launch_links(tmp_path))
    assert sorted(links.values()) == ["book/intro.md", "notebooks/02_train.ipynb", "notebooks/02_train.ipynb",
                                      "notebooks/02_train.ipynb"]
    assert "_sources/book/executed/02_train.ipynb" in page.read_text()  # the download stays the executed copy


def test_binder_installs_the_package_on_cpu_at_the_locks_versions():
    req = (PROJECT_ROOT / "binder" / "requirements.txt").read_text().split("\n")
    lines = [ln for ln in req if ln and not ln.startswith("#")]
    assert lines == ["--extra-index-url https://download.pytorch.org/whl/cpu", "-c ../requirements.lock",
                     "-e .[book]"]
    post = PROJECT_ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK) and "python -m mlgcn_core data" in post.read_text()


def test_make_publish_pushes_only_when_asked():
    def plan(*args):
        return subprocess.run(["make", "-n", "-C", str(PROJECT_ROOT), "publish", *args], capture_output=True,
                              text=True, timeout=60).stdout

    ghp = [ln for ln in plan().splitlines() if "ghp-import" in ln]
    dry = [ln for ln in plan("PUSH=0").splitlines() if "ghp-import" in ln]
    assert len(ghp) == len(dry) == 1 and " -p " in ghp[0] + " " and " -p " not in dry[0] + " "
    assert ghp[0].rstrip().endswith("_build/html") and " -n " in ghp[0]
