"""Look at the docs site as readers do: build it, serve it on loopback, open pages in a
headless Chromium at 1280 and 400 pixels wide, light and dark, save a screenshot of each,
and fail on what a reader would trip over.

    python docs/screenshots.py                       # build, then every page with a picture
    python docs/screenshots.py --site site/ tutorial/first-simulation/ concepts/raft/
    python docs/screenshots.py --out shots/ --width 400 --scheme dark

A page fails when it logs a console error (a missing file, a script error), when two
texts of an inlined picture overlap or one falls outside its picture (boxes measured by
the browser, ``getBBox`` mapped to the page), or when the page itself is wider than the
window (a picture must scroll in its own box, not drag the page sideways). The
screenshots are written to ``--out`` (default ``screenshots/``: the whole page as
``PAGE-WIDTH-SCHEME.png``, each picture as ``PAGE-WIDTH-SCHEME-figureN.png``) for a
person to look at. Exit status: 0 if every page passed,
1 if one failed, 2 if there is no Chromium to run.

It uses the system's Chromium through Playwright, with the flags of ``tests/browser.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM_ARGS, chromium_path  # noqa: E402

#: A short list of pages with the most pictures, of every renderer, for a quicker look
#: (the command line looks at every page that inlines a picture: :func:`pages_with_figures`).
PAGES = [
    "tutorial/first-simulation/",
    "howto/draw-a-diagram/",
    "howto/debug-your-raft/",
    "concepts/communication/",
    "concepts/mutual-exclusion/",
    "concepts/raft/",
    "concepts/caching/",
    "concepts/distributed-commit/",
    "labs/lab0/",
]
WIDTHS = (1280, 400)
SCHEMES = ("light", "dark")

# In the page: the problems of every inlined picture (.dsys-figure svg). A text's box is
# its getBBox() mapped through its transform to the page (getScreenCTM), so rotated and
# scaled texts are measured as drawn.
CHECK_FIGURES = """
() => {
  const problems = [];
  const figures = [...document.querySelectorAll('.dsys-figure svg')];
  figures.forEach((svg, index) => {
    const name = (svg.getAttribute('aria-label') || '').slice(0, 40) || `picture ${index + 1}`;
    const frame = svg.getBoundingClientRect();
    const boxes = [];
    for (const text of svg.querySelectorAll('text')) {
      if (!text.textContent.trim()) continue;
      const b = text.getBBox();
      const m = text.getScreenCTM();
      const xs = [], ys = [];
      for (const [x, y] of [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height],
                            [b.x + b.width, b.y + b.height]]) {
        xs.push(m.a * x + m.c * y + m.e); ys.push(m.b * x + m.d * y + m.f);
      }
      boxes.push({text: text.textContent, x0: Math.min(...xs), x1: Math.max(...xs),
                  y0: Math.min(...ys), y1: Math.max(...ys)});
    }
    const scale = frame.width / (svg.viewBox.baseVal.width || frame.width || 1);
    const slack = 0.5 * scale;
    for (const b of boxes) {
      if (b.x0 < frame.left - slack || b.x1 > frame.right + slack ||
          b.y0 < frame.top - slack || b.y1 > frame.bottom + slack) {
        problems.push(`${name}: "${b.text}" falls outside the picture`);
      }
    }
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], c = boxes[j];
        if (a.x0 < c.x1 - slack && c.x0 < a.x1 - slack &&
            a.y0 < c.y1 - slack && c.y0 < a.y1 - slack) {
          problems.push(`${name}: "${a.text}" overlaps "${c.text}"`);
        }
      }
    }
  });
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth + 1) {
    problems.push(`the page is ${page.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  return {figures: figures.length, problems};
}
"""


def pages_with_figures(site: Path) -> list[str]:
    """The pages of a built ``site`` that inline a picture (``dsys-figure``), as site
    paths ("concepts/raft/"), sorted."""
    found = []
    for index in sorted(site.rglob("index.html")):
        if 'class="dsys-figure' in index.read_text(encoding="utf-8", errors="replace"):
            folder = index.parent.relative_to(site).as_posix()
            found.append("" if folder == "." else folder + "/")
    return found


def build(site: Path) -> None:
    """``mkdocs build --strict`` into ``site``; raises with its output if it fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"mkdocs build failed:\n{result.stdout}{result.stderr}")


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on loopback, on a free port; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def look(browser: Any, url: str, width: int, scheme: str,
         screenshot: Path | None) -> tuple[int, list[str]]:
    """Open ``url`` at ``width`` pixels in the ``scheme`` ("light" or "dark"); returns how
    many inlined pictures it has and its problems (console errors included)."""
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  color_scheme=scheme)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"script error: {e}"))
        page.on("requestfailed", lambda r: errors.append(
            f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 else None)
        response = page.goto(url, wait_until="load")
        if response is None or not response.ok:
            return 0, [f"{url}: HTTP {response.status if response else '?'}"]
        if scheme == "dark":  # what mkdocs-material's palette toggle does
            page.evaluate("document.body.setAttribute('data-md-color-scheme', 'slate')")
        page.evaluate("document.fonts.ready")
        result = page.evaluate(CHECK_FIGURES)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            for number, figure in enumerate(page.locator(".dsys-figure").all(), start=1):
                figure.scroll_into_view_if_needed()
                figure.screenshot(path=str(screenshot.with_name(
                    f"{screenshot.stem}-figure{number}.png")))
        return int(result["figures"]), errors + list(result["problems"])
    finally:
        context.close()


def review(base: str, pages: Sequence[str], *, widths: Sequence[int] = WIDTHS,
           schemes: Sequence[str] = SCHEMES, out: Path | None = None,
           report: Any = print) -> dict[str, list[str]]:
    """Look at every page at every width in every scheme; returns the problems by view
    ("PAGE at WIDTH px, SCHEME"), an empty list for a view that passed."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise FileNotFoundError("no Chromium on this machine (Debian: apt-get install chromium)")
    found: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            for page in pages:
                for width in widths:
                    for scheme in schemes:
                        slug = page.strip("/").replace("/", "-") or "index"
                        shot = out / f"{slug}-{width}-{scheme}.png" if out else None
                        figures, problems = look(browser, base + page.lstrip("/"), width,
                                                 scheme, shot)
                        view = f"{page} at {width} px, {scheme}"
                        found[view] = problems
                        status = "ok" if not problems else f"{len(problems)} problem(s)"
                        report(f"{view}: {figures} picture(s), {status}")
                        for problem in problems[:20]:
                            report(f"    {problem}")
        finally:
            browser.close()
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", default=None,
                        help="pages to look at, as site paths (default: every page that "
                             "inlines a picture)")
    parser.add_argument("--site", type=Path, default=None,
                        help="an already built site (default: build one with mkdocs)")
    parser.add_argument("--out", type=Path, default=Path("screenshots"),
                        help="where to write the screenshots (default: %(default)s)")
    parser.add_argument("--width", type=int, action="append", default=None,
                        help="window width in pixels, repeatable (default: 1280 and 400)")
    parser.add_argument("--scheme", choices=SCHEMES, action="append", default=None,
                        help="colour scheme, repeatable (default: light and dark)")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print("no Chromium on this machine (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as folder:
        site = args.site
        if site is None:
            site = Path(folder) / "site"
            print("building the site ...")
            build(site)
        pages = args.pages or pages_with_figures(site)
        if not pages:
            print(f"no page of {site} inlines a picture", file=sys.stderr)
            return 1
        with serve(site) as base:
            found = review(base, pages, widths=args.width or WIDTHS,
                           schemes=args.scheme or SCHEMES, out=args.out)
    failed = [view for view, problems in found.items() if problems]
    print(f"{len(found) - len(failed)} of {len(found)} views passed; "
          f"screenshots in {args.out}/")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
