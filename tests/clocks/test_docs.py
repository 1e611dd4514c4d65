"""The time-and-clocks page's pictures are generated from real runs and referenced by the
page. (Its Python examples run in tests/docs/test_examples.py, with every other page's.)"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "concepts" / "time-and-clocks.md"
PICTURES = ["clocks-berkeley.svg", "clocks-causality.svg", "clocks-cristian.svg",
            "clocks-lamport-vector.svg"]


def test_pictures_are_generated_and_referenced(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_clock_pictures", DOCS / "gen_clock_pictures.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "generated"
    module.main(out)
    assert sorted(p.name for p in out.iterdir()) == PICTURES
    page = PAGE.read_text()
    for name in PICTURES:
        assert f"../assets/generated/{name}" in page
        assert (out / name).read_text().startswith("<svg")
    # The page's claims about the pictures: labels carry Lamport and vector timestamps,
    # and the highlighted event has past, future and concurrent events around it.
    assert "1 [1,0,0]" in (out / "clocks-lamport-vector.svg").read_text()
    causality = (out / "clocks-causality.svg").read_text()
    for colour in ("#2b6cb0", "#2f855a", "#dd6b20", "#c53030"):
        assert f'fill="{colour}"' in causality
    # The page reads these off the picture: b's receipt "5 [1,4,2]" is highlighted, and
    # the events concurrent with it have Lamport times 2, 3, 4, 5 and 6.
    def labels(colour: str) -> list[str]:
        return re.findall(rf'<text[^>]*fill="{colour}"[^>]*>([^<]+)<', causality)

    assert labels("#c53030") == ["5 [1,4,2]"]
    concurrent = labels("#dd6b20")
    assert sorted(concurrent) == ["2 [2,0,0]", "3 [0,0,3]", "4 [3,2,0]", "5 [4,2,0]",
                                  "6 [5,2,0]"]
