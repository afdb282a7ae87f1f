"""Checking the built book in a real browser (headless Chromium): every page renders its title,
every ``<img>`` loads, every equation is typeset by MathJax (served from the book itself, so it
works offline); screenshots of the chapters.

The HTML folder is served on 127.0.0.1; a small checker page (same origin) loads each page in an
iframe and writes what it found into its own DOM, which ``chromium --dump-dom`` prints.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]

CHECKER = """<!doctype html><html><body><pre id="out">pending</pre><script>
const pages = %s; const deadline_ms = %d; const poll_ms = 100; const results = {};
function check(i) {
  if (i >= pages.length) { document.getElementById('out').textContent = 'RESULT ' + JSON.stringify(results); return; }
  const f = document.createElement('iframe'); f.style.width = '1200px'; f.style.height = '900px';
  f.onload = () => {
    const t0 = Date.now();
    const look = () => {  // polled until every equation is typeset and every image settled, or the deadline
      const d = f.contentDocument; const h1 = d.querySelector('h1');
      const imgs = Array.from(d.images).filter(im => !im.src.startsWith('http') || im.src.includes('127.0.0.1'));
      const maths = Array.from(d.querySelectorAll('.math'));
      const untypeset = maths.filter(m => !m.querySelector('mjx-container'));
      const pending = imgs.filter(im => !im.complete);
      if ((untypeset.length || pending.length) && Date.now() - t0 < deadline_ms) { setTimeout(look, poll_ms); return; }
      results[pages[i]] = {title: h1 ? h1.textContent.replace(/#$/, '').trim() : null, images: imgs.length,
        broken: imgs.filter(im => !(im.complete && im.naturalWidth > 0)).map(im => im.getAttribute('src')),
        math: maths.length, untypeset: untypeset.map(m => m.textContent.slice(0, 40)),
        waited_ms: Date.now() - t0};
      f.remove(); check(i + 1);
    };
    look();
  };
  f.src = pages[i]; document.body.appendChild(f);
}
check(0);
</script></body></html>"""


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not exe:
        raise FileNotFoundError("Chromium not found: install Debian's 'chromium' package "
                                "(.ci/run does so when it runs as root)")
    return exe


@contextlib.contextmanager
def serve(folder: Path):
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _run(args: list[str], timeout: int = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


def check_pages(html: Path, pages: list[str], deadline_s: float = 30.0) -> dict:
    """{page: {"title", "images", "broken", "math", "untypeset", "waited_ms", "abs_paths"}} as
    rendered by Chromium: the first ``<h1>``, the number of local images and those that did not
    load, the number of equations and the beginnings of those MathJax left as raw TeX. Each page is
    polled (every 0.1 s) until MathJax has typeset every equation and every image has settled, for
    at most ``deadline_s`` seconds — a slow runner waits longer instead of reporting raw TeX. And,
    from the page's file, every absolute path of this machine it shows (:func:`machine_paths`;
    must be none)."""
    html = Path(html)
    checker = html / "_browser_check.html"
    checker.write_text(CHECKER % (json.dumps(["/" + p for p in pages]), int(deadline_s * 1000)))
    budget_ms = int((deadline_s + 30) * 1000 * max(1, len(pages)))  # virtual time: an upper bound
    try:
        with serve(html) as url:
            proc = _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", f"{url}/{checker.name}"],
                        timeout=max(300, int(deadline_s * 2 * len(pages))))
    finally:
        checker.unlink(missing_ok=True)
    m = re.search(r"RESULT (\{.*\})", proc.stdout)
    if not m:
        raise RuntimeError(f"Chromium did not finish the check: {proc.stdout[-500:]} {proc.stderr[-1500:]}")
    result = {k.lstrip("/"): v for k, v in json.loads(m.group(1).replace("&quot;", '"')).items()}
    for page, r in result.items():
        r["abs_paths"] = absolute_paths((html / page).read_text(errors="replace"), machine_paths(html))
    return result


def machine_paths(html: Path) -> list[str]:
    """Absolute paths a published page must not show: the project root, the folder the book was
    built in, the machine's temporary folder and the user's home."""
    from ..paths import PROJECT_ROOT

    found = {str(PROJECT_ROOT), str(Path(html).resolve().parent.parent), tempfile.gettempdir(), str(Path.home())}
    return sorted(p for p in found if len(p) > 1)


def absolute_paths(text: str, forbidden: list[str]) -> list[str]:
    """The places in ``text`` where one of the ``forbidden`` absolute paths appears (as a path:
    followed by '/' or the end of a word), each with a little context."""
    hits = []
    for root in forbidden:
        for m in re.finditer(re.escape(root.rstrip("/")) + r"(?=/|\b)", text):
            hits.append(text[max(0, m.start() - 20):m.end() + 40].replace("\n", " "))
    return hits


def screenshots(html: Path, pages: list[str], out: Path, size: str = "1280,2400") -> list[Path]:
    """PNG screenshots of ``pages`` (served from ``html``) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with serve(Path(html)) as url:
        for p in pages:
            target = out / (Path(p).stem + ".png")
            _run([f"--window-size={size}", "--virtual-time-budget=10000", f"--screenshot={target}",
                  f"{url}/{p}"])
            if target.is_file():
                shots.append(target)
    return shots


_LINK = re.compile(r"""(?:href|src)=["']([^"'#]*)(?:#([^"']*))?["']""")


def internal_links(html: Path) -> tuple[int, list[str]]:
    """The offline link check of a built book: every ``href`` / ``src`` of every page that names a
    file of the book (not ``http(s):``, ``mailto:``, ``data:`` or ``javascript:``) and the ``id`` its
    ``#fragment`` names. Returns (how many links were checked, the broken ones as "page → target")."""
    html = Path(html)
    ids: dict[Path, set[str]] = {}
    checked, broken = 0, []
    for page in sorted(html.rglob("*.html")):
        if page.relative_to(html).parts[0] == "_static":  # the theme's Jinja templates, not pages
            continue
        text = page.read_text(errors="replace")
        for target, fragment in _LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
                continue  # another site, a mail address, inline data
            checked += 1
            target = urllib.parse.unquote(target.split("?", 1)[0])  # a cache-busting ?v=… names the same file
            path = (page.parent / target).resolve() if target else page.resolve()
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                broken.append(f"{page.relative_to(html)} → {target}")
            elif fragment and path.suffix == ".html":
                if path not in ids:
                    ids[path] = set(re.findall(r"""\bid=["']([^"']+)["']""", path.read_text(errors="replace")))
                if fragment not in ids[path]:
                    broken.append(f"{page.relative_to(html)} → {target}#{fragment}")
    return checked, broken


def html_pages(html: Path) -> list[str]:
    """Every page of the built book (relative paths), search and index pages left out."""
    skip = {"search.html", "genindex.html", "index.html", "_browser_check.html"}
    return sorted(str(p.relative_to(html)) for p in Path(html).rglob("*.html")
                  if p.name not in skip and "_static" not in p.parts and "_sources" not in p.parts)


if __name__ == "__main__":  # python -m mlgcn_core.book.browser [_build/html]
    import sys

    root = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")
    res = check_pages(root, html_pages(root))
    for page, r in res.items():
        print(f"{page}: title {r['title']!r}, {r['images']} images, broken {r['broken']}, "
              f"{r['math']} equations, untypeset {r['untypeset']}")
    shots = screenshots(root, [p for p in res if "executed" in p], root.parent / "screenshots")
    print(f"{len(shots)} screenshots in {root.parent / 'screenshots'}")
    sys.exit(1 if any(r["broken"] or r["untypeset"] or r["abs_paths"] or not r["title"] for r in res.values()) else 0)
