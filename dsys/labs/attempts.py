"""A student's local attempts: where ``dsys lab start`` put the files, and the last grade.

``dsys lab start LAB DIR`` copies the lab's starter files and its handout into ``DIR``,
leaves a marker file there (``.dsys-lab.json``) and records the folder in dsys's state file
(``labs.json`` in ``~/.dsys``, or in ``$DSYS_HOME`` if set). ``dsys lab test LAB`` then
grades the attempt of the current folder if it is one, else the recorded one, and records
its score for ``dsys lab list``.

Example:
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from dsys.labs import find_lab
    >>> from dsys.labs.attempts import find_attempt, start
    >>> home, work = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> os.environ["DSYS_HOME"] = home
    >>> copied = start(find_lab("lab0"), Path(work) / "lab0")
    >>> sorted(p.name for p in copied)
    ['README.md', 'reliable.py', 'try_it.py']
    >>> find_attempt(find_lab("lab0"), cwd=Path(work)).implementation_path.name
    'reliable.py'
    >>> del os.environ["DSYS_HOME"]
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import attrs

from dsys.errors import UsageError
from dsys.labs.lab import Lab

#: Environment variable naming dsys's state folder (default ``~/.dsys``).
HOME_ENV = "DSYS_HOME"

#: The marker file ``dsys lab start`` leaves in an attempt folder.
MARKER = ".dsys-lab.json"


@attrs.frozen
class Attempt:
    """A student's copy of a lab: its folder and, once graded, the last score."""

    lab: str
    folder: Path
    implementation: str
    earned: int | None = None
    total: int | None = None

    @property
    def implementation_path(self) -> Path:
        """The file the student edits (what ``dsys lab test`` grades)."""
        return self.folder / self.implementation


def state_file() -> Path:
    """The JSON file that records attempts."""
    home = os.environ.get(HOME_ENV)
    return (Path(home) if home else Path.home() / ".dsys") / "labs.json"


def _load_state() -> dict[str, Any]:
    path = state_file()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path} ({exc}); delete it to start afresh") from None
    return state if isinstance(state, dict) else {}


def _save_state(state: dict[str, Any]) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted write never leaves half a file.
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)


def start(lab: Lab, folder: Path, *, force: bool = False) -> list[Path]:
    """Copy ``lab``'s starter files and handout into ``folder`` and record the attempt.

    Refuses to overwrite existing files (they may be a student's work) unless ``force``.
    Returns the files written.
    """
    folder = Path(folder)
    copies = {path: folder / path.relative_to(lab.starter_dir) for path in lab.starter_files()}
    if lab.readme.is_file() and folder / "README.md" not in copies.values():
        copies[lab.readme] = folder / "README.md"
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder")
    existing = sorted(str(target) for target in copies.values() if target.exists())
    if existing and not force:
        raise UsageError(
            f"not overwriting {', '.join(existing)}: it may be your work. Choose another "
            "folder, or pass --force to replace the files with fresh copies"
        )
    for source, target in copies.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    (folder / MARKER).write_text(
        json.dumps({"lab": lab.name, "implementation": lab.implementation}) + "\n",
        encoding="utf-8",
    )
    state = _load_state()
    state[lab.name] = {"folder": str(folder.resolve()), "implementation": lab.implementation}
    _save_state(state)
    return sorted(copies.values())


def _marker_lab(folder: Path) -> str | None:
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("lab") if isinstance(data, dict) else None


def find_attempt(lab: Lab, cwd: Path | None = None) -> Attempt | None:
    """The attempt at ``lab``: the current folder if it is one, else the recorded one."""
    entry = _load_state().get(lab.name)
    entry = entry if isinstance(entry, dict) else {}
    here = Path.cwd() if cwd is None else Path(cwd)
    for folder in (here, here / lab.name):
        if _marker_lab(folder) == lab.name:
            same = entry.get("folder") == str(folder.resolve())
            return Attempt(lab.name, folder, lab.implementation,
                           entry.get("earned") if same else None,
                           entry.get("total") if same else None)
    if "folder" not in entry:
        return None
    return Attempt(lab.name, Path(entry["folder"]), str(entry.get("implementation",
                   lab.implementation)), entry.get("earned"), entry.get("total"))


def record_grade(attempt: Attempt, earned: int, total: int) -> None:
    """Remember the score of ``attempt`` (shown by ``dsys lab list``)."""
    state = _load_state()
    state[attempt.lab] = {
        "folder": str(attempt.folder.resolve()),
        "implementation": attempt.implementation,
        "earned": earned,
        "total": total,
    }
    _save_state(state)
