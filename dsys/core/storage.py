"""Persistent node storage with explicit sync.

``node.storage`` is a small key-value store that survives crashes. Writes are visible to
the node at once, but they are *durable* only after :meth:`Storage.sync`: a crash may lose
any write made since the last sync (in the simulator, which ones is decided by the seed;
on a real machine, by the disk). This is the rule real systems live by: Raft must persist
``currentTerm``, ``votedFor`` and its log *before* answering an RPC (Raft paper, Figure 2).

Values must be JSON values (None, bool, int, float, str, lists and dicts of these). They
are copied in and out, so changing a list after storing it does not change what is stored.

Example:
    >>> from dsys.core.storage import Storage
    >>> s = Storage()
    >>> s["term"] = 3
    >>> s.get("term"), s.get("voted_for")
    (3, None)
    >>> s.dirty
    ('term',)
    >>> s.sync()
    >>> s.dirty
    ()
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator, Mapping
from random import Random
from typing import Any

from dsys.core.codec import json_text
from dsys.errors import UsageError

_MISSING = object()


def _frozen_copy(key: str, value: Any) -> str:
    if not isinstance(key, str):
        raise UsageError(f"storage keys must be strings, got {type(key).__name__} {key!r}")
    try:
        return json_text(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"storage[{key!r}]: value is not a JSON value ({exc}); store ints, strings, "
            "lists and dicts"
        ) from None


class Storage:
    """A node's persistent key-value store; see the module docstring for its semantics."""

    __slots__ = ("_durable", "_pending", "last_synced", "on_sync", "origin", "syncs")

    def __init__(self, durable: Mapping[str, str] | None = None) -> None:
        # Both maps hold JSON text: a stored value can never alias a live object.
        self._durable: dict[str, str] = dict(durable or {})
        # key -> JSON text, or None for a pending delete. Insertion-ordered.
        self._pending: dict[str, str | None] = {}
        self.syncs = 0
        #: The keys the last :meth:`sync` made durable (written or deleted), in write
        #: order: what a host's ``on_sync`` hook has to write out.
        self.last_synced: tuple[str, ...] = ()
        self.on_sync: Any = None
        #: Where the durable contents live, for error messages about them (the runtime
        #: sets the file's path; the simulator names the node).
        self.origin = "storage"

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        text = self._pending[key] if key in self._pending else self._durable.get(key)
        return default if text is None else json.loads(text)

    def __setitem__(self, key: str, value: Any) -> None:
        self._pending[key] = _frozen_copy(key, value)

    def set_text(self, key: str, text: str) -> None:
        """Write the value whose compact JSON text (:func:`dsys.core.codec.json_text`)
        is ``text``, without encoding it again: for code that has the text already
        (Raft made it to measure its log). Same as ``storage[key] = json.loads(text)``.
        """
        if not isinstance(key, str):
            raise UsageError(f"storage keys must be strings, got {type(key).__name__} {key!r}")
        self._pending[key] = text

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._pending[key] = None

    def __contains__(self, key: object) -> bool:
        if key in self._pending:
            return self._pending[key] is not None
        return key in self._durable

    def keys(self) -> list[str]:
        """All keys, sorted."""
        live = {k for k in self._durable if self._pending.get(k, "") is not None}
        live.update(k for k, v in self._pending.items() if v is not None)
        return sorted(live)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def update(self, values: Mapping[str, Any]) -> None:
        """Write several keys (not yet durable)."""
        for key, value in values.items():
            self[key] = value

    @property
    def dirty(self) -> tuple[str, ...]:
        """Keys written or deleted since the last sync, in write order."""
        return tuple(self._pending)

    def sync(self) -> None:
        """Make every write so far durable: after this, a crash loses none of them."""
        for key, text in self._pending.items():
            if text is None:
                self._durable.pop(key, None)
            else:
                self._durable[key] = text
        self.last_synced = tuple(self._pending)
        self._pending.clear()
        self.syncs += 1
        if self.on_sync is not None:
            self.on_sync(self)

    # Used by hosts (the simulator, the runtime), not by protocol code.

    def durable_text(self, key: str) -> str | None:
        """The durable JSON text of ``key`` (None if it has none)."""
        return self._durable.get(key)

    def durable_snapshot(self) -> dict[str, str]:
        """The durable contents, as JSON text per key."""
        return dict(self._durable)

    def crash(self, rng: Random, keep: float = 0.5, *,
              lose: Container[str] | None = None) -> tuple[dict[str, str], list[str]]:
        """What survives a crash: the durable contents plus, for each unsynced write,
        a coin flip from ``rng`` (a disk may or may not have written it back) that keeps
        it with probability ``keep`` (1: all kept, 0: all lost). With ``lose``, no coin
        is flipped: exactly the unsynced writes of those keys are lost (a replayed
        schedule's choice).

        Returns the surviving contents and the keys whose unsynced writes were lost.
        """
        survived = dict(self._durable)
        lost = []
        for key in self._pending:  # insertion order: deterministic
            text = self._pending[key]
            if (key not in lose) if lose is not None else rng.random() < keep:
                if text is None:
                    survived.pop(key, None)
                else:
                    survived[key] = text
            else:
                lost.append(key)
        return survived, lost
