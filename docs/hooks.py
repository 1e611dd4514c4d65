"""MkDocs hooks: pages and pictures made at build time, from the code itself.

* Each lab's handout, ``labs/NAME/README.md``, becomes the page ``labs/NAME.md`` (nothing
  is copied by hand), and is added to the "Labs" section of the navigation. On
  ``labs/index.md``, the marker ``<!-- labs-table -->`` becomes a table of the labs.
* Space-time diagrams are drawn from real simulation runs: a page's diagram markers (see
  ``docs/examples.py``) run the page's own examples and draw the named simulation, and
  each ``docs/gen_*.py`` script draws the pictures of its pages (the checker's, mutual
  exclusion's...): its ``main(out_dir)`` writes them into ``out_dir``. The pictures are
  published under ``assets/generated/``; they are made in memory at every build, so
  there is nothing to commit and ``mkdocs serve`` does not rebuild in a loop.
* Every generated SVG picture a page shows is inlined into the page's HTML (hover texts
  work, the drawings of :mod:`dsys.trace.svg` follow the page's light or dark scheme), in
  a box that scrolls sideways on a narrow screen, with its caption and a link to the
  picture at full size (``docs/stylesheets/figures.css``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import posixpath
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = "assets/generated"
LABS_TABLE = "<!-- labs-table -->"

log = logging.getLogger("mkdocs.hooks.dsys")


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


examples = _load("dsys_docs_examples", DOCS / "examples.py")


def _labs() -> list[Any]:
    from dsys.labs import discover

    return discover(ROOT / "labs")


# ----- navigation: one page per lab ---------------------------------------------------------


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    for section in config.nav or []:
        if isinstance(section, dict) and "Labs" in section:
            entries = section["Labs"]
            listed = {str(e) if isinstance(e, str) else next(iter(e.values())) for e in entries}
            for lab in _labs():
                page = f"labs/{lab.name}.md"
                if page not in listed:
                    entries.append({f"{lab.name}: {lab.title}": page})
    return config


# ----- files: lab pages and generated pictures ----------------------------------------------


def _put(files: Files, config: MkDocsConfig, src_uri: str, content: str | bytes) -> None:
    existing = files.get_file_from_path(src_uri)
    if existing is not None:  # a copy made by hand, or by an earlier generator run
        files.remove(existing)
    files.append(File.generated(config, src_uri, content=content))


def _draw_page_diagrams(text: str, page: str) -> dict[str, str]:
    """Run a page's examples and draw its diagrams: file name -> SVG."""
    from dsys.trace import svg

    drawn: dict[str, str] = {}
    if not examples.diagrams(text):
        return drawn
    with tempfile.TemporaryDirectory() as folder, examples.in_folder(Path(folder)):
        for block, _printed, namespace in examples.run(text, page):
            for diagram in block.diagrams:
                sim = namespace.get(diagram.var)
                if sim is None or not hasattr(sim, "trace"):
                    raise ValueError(f"{page}: diagram {diagram.file}: no simulation named "
                                     f"{diagram.var!r} after the block at line {block.line}")
                trace = sim.trace
                if diagram.kinds is not None:
                    trace = trace.filter(kinds=diagram.kinds)
                drawn[diagram.file] = svg.draw(trace, title=diagram.caption)
    return drawn


def _generator_pictures() -> dict[str, bytes]:
    """Run every ``docs/gen_*.py`` (each has ``main(out_dir)``) and collect its pictures."""
    pictures: dict[str, bytes] = {}
    for script in sorted(DOCS.glob("gen_*.py")):
        module = _load(f"dsys_docs_{script.stem}", script)
        with tempfile.TemporaryDirectory() as folder:
            with contextlib.redirect_stdout(io.StringIO()):
                module.main(Path(folder))
            for path in sorted(Path(folder).iterdir()):
                if path.is_file():
                    if path.name in pictures:
                        raise ValueError(f"two generators make {GENERATED}/{path.name}")
                    pictures[path.name] = path.read_bytes()
    return pictures


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for lab in _labs():
        text = lab.readme.read_text(encoding="utf-8")
        _put(files, config, f"labs/{lab.name}.md", text)
    pictures: dict[str, str | bytes] = {}
    reuse = os.environ.get("DSYS_DOCS_PICTURES")
    if reuse:
        # The pictures of an earlier build (its site's assets/generated folder): a test
        # that builds the site again for another reason need not draw them all again.
        pictures.update({path.name: path.read_bytes()
                         for path in sorted(Path(reuse).iterdir()) if path.is_file()})
    else:
        for file in list(files.documentation_pages()):
            text = file.content_string
            for name, picture in _draw_page_diagrams(text, file.src_uri).items():
                if name in pictures:
                    raise ValueError(f"two pages draw {GENERATED}/{name}; give one another "
                                     "name")
                pictures[name] = picture
        for name, picture in _generator_pictures().items():
            if name in pictures:
                raise ValueError(f"a page and a generator both make {GENERATED}/{name}")
            pictures[name] = picture
    for name, picture in pictures.items():
        _put(files, config, f"{GENERATED}/{name}", picture)
    _PICTURES.clear()
    _PICTURES.update({name: picture if isinstance(picture, str) else picture.decode()
                      for name, picture in pictures.items() if name.endswith(".svg")})
    log.info("dsys hooks: %d lab page(s), %d generated picture(s)", len(_labs()), len(pictures))
    return files


# ----- page text: diagram markers become images, the labs table --------------------------------


def _labs_table(page: Page) -> str:
    from dsys.labs import load_grader

    rows = ["| lab | topic | points |", "| --- | --- | ---: |"]
    for lab in _labs():
        points = sum(test.points for test in load_grader(lab))
        link = posixpath.relpath(f"labs/{lab.name}.md", posixpath.dirname(page.file.src_uri))
        rows.append(f"| [{lab.name}: {lab.title}]({link}) | {lab.topic} | {points} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    folder = posixpath.dirname(page.file.src_uri)
    for diagram in examples.diagrams(markdown):
        target = posixpath.relpath(f"{GENERATED}/{diagram.file}", folder)
        image = f'![{diagram.caption}]({target}){{ loading="lazy" }}'
        markdown = markdown.replace(diagram.marker, image)
    if LABS_TABLE in markdown:
        markdown = markdown.replace(LABS_TABLE, _labs_table(page))
    return markdown


# ----- page HTML: generated SVG pictures inlined ------------------------------------------------

#: The generated SVG pictures of this build, by file name (for :func:`on_page_content`).
_PICTURES: dict[str, str] = {}
_IMAGE = re.compile(r'(?:<p>\s*)?<img\b(?P<attrs>[^>]*?\bsrc="(?P<src>[^"]*'
                    + re.escape(GENERATED) + r'/(?P<name>[\w.-]+\.svg))"[^>]*)/?>(?:\s*</p>)?')
_ALT = re.compile(r'\balt="(?P<alt>[^"]*)"')
#: A figure wider than the page shrinks down to this share of its width, then scrolls.
SHRINK = 0.8


def inline_figure(svg: str, alt: str, src: str, number: int) -> str:
    """The HTML of one inlined picture: the SVG itself (so its ``<title>`` hovers work and
    its colours follow the page's scheme) in a box that scrolls sideways on narrow
    screens, a caption, and a link to the picture at full size. The SVG's ids get a
    prefix unique in the page, since two pictures may use the same ones."""
    prefix = f"fig{number}-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"<\?xml[^>]*>\s*", "", svg)
    width = re.search(r'<svg\b[^>]*\bwidth="([\d.]+)', svg)
    style = f' style="min-width:{float(width.group(1)) * SHRINK:.0f}px"' if width else ""
    svg = re.sub(r"<svg\b", f'<svg{style}', svg, count=1) if style else svg
    themed = " dsys-themed" if 'class="dsys-st"' in svg else ""
    caption = (f'<figcaption>{alt} <a class="dsys-full" href="{src}" title="open the picture '
               'on its own, at full size">(full size)</a></figcaption>')
    return (f'<figure class="dsys-figure{themed}"><div class="dsys-scroll" tabindex="0" '
            f'role="group" aria-label="{alt}">{svg.strip()}</div>{caption}</figure>')


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    number = 0

    def inline(match: re.Match[str]) -> str:
        nonlocal number
        svg = _PICTURES.get(match.group("name"))
        if svg is None:  # not made by this build: leave the image alone
            return match.group(0)
        number += 1
        alt = _ALT.search(match.group("attrs"))
        return inline_figure(svg, alt.group("alt") if alt else "", match.group("src"), number)

    return _IMAGE.sub(inline, html)
