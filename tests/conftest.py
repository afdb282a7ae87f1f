"""Shared fixtures. Every test run writes caches and runs into its own temporary folder."""

from __future__ import annotations

import copy
import http.server
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

from mlgcn_core.paths import PROJECT_ROOT

# Isolate derived artifacts (scenes, features, runs) from the user's; set before any test imports,
# undone and removed when the session ends (each xdist worker has its own folder).
_TMP = Path(tempfile.mkdtemp(prefix="mlgcn-tests-"))
_ENV = pytest.MonkeyPatch()
_ENV.setenv("MLGCN_CACHE", str(_TMP / "cache"))
_ENV.setenv("MLGCN_RUNS", str(_TMP / "runs"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: trains several runs or starts processes (left out of make test-fast)")
    if not config.pluginmanager.hasplugin("timeout"):  # pytest-timeout (requirements.lock) not installed
        config.addinivalue_line("markers", "timeout(seconds): pytest-timeout's limit of a test")


# pytest-timeout's limit for tests that start processes, kernels or clusters, by marker: a hung
# subprocess, kernel or Ray head fails its test instead of hanging the suite (first marker wins)
TIMEOUTS = {"notebook": 1800, "browser": 600, "ray": 900, "distributed": 900, "slow": 600}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("timeout"):
            continue
        for marker, seconds in TIMEOUTS.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.timeout(seconds))
                break


def pytest_sessionfinish(session, exitstatus):
    _ENV.undo()
    shutil.rmtree(_TMP, ignore_errors=True)

OFFICIAL_DIR = Path(os.environ.get("MLGCN_OFFICIAL_DIR", PROJECT_ROOT.parent / "shared" / "data" / "mlgcn-official"))


@pytest.fixture(scope="session")
def official_dir() -> Path:
    """The official repository's label statistics and GloVe vectors (always present in CI:
    a missing file is a failure, not a skip)."""
    for name in ("voc_adj.pkl", "coco_adj.pkl", "voc_glove_word2vec.pkl", "coco_glove_word2vec.pkl",
                 "category.json"):
        assert (OFFICIAL_DIR / name).is_file(), f"missing official file {OFFICIAL_DIR / name}"
    return OFFICIAL_DIR


# --- a local HTTP server with Range support (no internet in tests) -----------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: list[str] = []
    ranges: list[str | None] = []  # the Range header of each request (None: none sent)
    sent: list[int] = []  # body bytes sent per request
    honour_range = True  # False: a server that ignores Range and always sends the whole file

    def do_GET(self):  # noqa: N802
        self.hits.append(self.path)
        rng = self.headers.get("Range")
        self.ranges.append(rng)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if rng and rng.startswith("bytes=") and self.honour_range:
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        # Recorded before the body goes out: once the client has read the last byte its test may
        # assert at once, before this thread would get to run a line after the write (a race that
        # failed CI once).
        self.sent.append(len(body) - start)
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.files, _Handler.hits, _Handler.ranges, _Handler.sent = {}, [], [], []
    _Handler.honour_range = True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler
    httpd.shutdown()


@pytest.fixture(scope="session")
def _resnet_random_pristine():
    """torchvision ResNet-101 with random weights (no ImageNet weights offline), built once and
    never handed to a test."""
    from mlgcn_core.backbones import PretrainedWeightsUnavailable, build_backbone

    with pytest.warns(PretrainedWeightsUnavailable, match="random weights"):
        return build_backbone("resnet101", None, "max")


@pytest.fixture
def resnet_random(_resnet_random_pristine):
    """A fresh copy per test: what one test does to it (gradients, training mode, weights) cannot
    reach another."""
    return copy.deepcopy(_resnet_random_pristine)
