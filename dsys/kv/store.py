"""The replicated state machine of the key-value service: the data and the sessions.

Every server applies the same commands in the same order (Raft), so this class must be
deterministic: it reads no clock and no randomness. Time, for expiring sessions, comes from
the log itself: the leader stamps each command with its clock, and the store's clock is the
largest stamp applied so far (thesis §6.3), the same on every server.

Example:
    >>> from dsys.kv.store import KVStore
    >>> store = KVStore()
    >>> store.apply(1, {"session": "s", "seq": 0, "f": "register", "key": "", "value": None,
    ...                 "time": 0.0})
    {'status': 'ok', 'value': None}
    >>> store.apply(2, {"session": "s", "seq": 1, "f": "append", "key": "x", "value": "a",
    ...                 "time": 0.1})
    {'status': 'ok', 'value': None}
    >>> store.apply(3, {"session": "s", "seq": 1, "f": "append", "key": "x", "value": "a",
    ...                 "time": 0.2})  # a retry: answered again, not applied twice
    {'status': 'ok', 'value': None}
    >>> store.data
    {'x': 'a'}
"""

from __future__ import annotations

from typing import Any

from dsys.kv.messages import EXPIRED, FAILED, OK, STALE

#: The operations that change nothing: served by ReadIndex unless reads go through the log.
READS = frozenset({"get"})

#: Every operation a command may carry.
OPERATIONS = ("get", "put", "append", "cas", "register")


class KVStore:
    """Keys to string values, and the session table (client session -> the number and
    the result of its latest operation, and when it was last used).

    Args:
        session_timeout: seconds of log time after which an idle session expires.
    """

    def __init__(self, session_timeout: float = 60.0) -> None:
        self.session_timeout = session_timeout
        self.data: dict[str, str] = {}
        # session -> [seq of its latest operation, that operation's result, last used]
        self.sessions: dict[str, list[Any]] = {}
        self.clock = 0.0  # the largest time stamp applied so far
        self.applied_index = 0

    def apply(self, index: int, command: dict[str, Any]) -> dict[str, Any]:
        """Apply the committed ``command`` (a request and the leader's time stamp) at log
        ``index`` and return its result: ``{"status", "value"}``.

        Exactly once: an operation whose number the session has already seen is not
        applied again; the latest one is answered from the table.
        """
        self.applied_index = index
        self.clock = max(self.clock, float(command.get("time", 0.0)))
        self.expire()
        session, seq, f = command["session"], command["seq"], command["f"]
        if f in READS:  # changes nothing: applying it twice is harmless, no session needed
            return self.execute(f, command["key"], None)
        if f == "register":
            self.sessions.setdefault(session, [0, None, self.clock])
            return {"status": OK, "value": None}
        entry = self.sessions.get(session)
        if entry is None:
            return {"status": EXPIRED, "value": None}
        entry[2] = self.clock
        # The table stays in order of last use (the clock never goes back), so expire()
        # finds the idle sessions at its front.
        self.sessions[session] = self.sessions.pop(session)
        if seq < entry[0]:
            return {"status": STALE, "value": None}  # a late copy: its client moved on
        if seq == entry[0]:
            return dict(entry[1])  # a retry: the answer of the first time
        result = self.execute(f, command["key"], command.get("value"))
        entry[0], entry[1] = seq, result
        return dict(result)

    def execute(self, f: str, key: str, value: Any) -> dict[str, Any]:
        """Run one operation on the data."""
        current = self.data.get(key, "")
        if f == "get":
            return {"status": OK, "value": current}
        if f == "put":
            self.data[key] = value
        elif f == "append":
            self.data[key] = current + value
        elif f == "cas":
            old, new = value
            if current != old:
                return {"status": FAILED, "value": current}
            self.data[key] = new
        else:
            raise ValueError(f"no operation {f!r}")
        return {"status": OK, "value": None}

    def read(self, key: str) -> str:
        """The value of ``key`` ("" if absent), for a read served without the log."""
        return self.data.get(key, "")

    def expire(self) -> None:
        """Forget sessions idle for more than ``session_timeout`` of log time."""
        limit = self.clock - self.session_timeout
        sessions = self.sessions
        while sessions:  # oldest use first: stop at the first one still in use
            session = next(iter(sessions))
            if sessions[session][2] >= limit:
                break
            del sessions[session]

    def snapshot(self) -> dict[str, Any]:
        """Everything, as a JSON value: the data *and* the session table (without it, a
        retry after a restart from the snapshot would be applied twice)."""
        return {"data": dict(self.data), "sessions": {s: list(e) for s, e in
                                                      sorted(self.sessions.items())},
                "clock": self.clock}

    def restore(self, index: int, data: dict[str, Any] | None) -> None:
        """Replace everything with a snapshot (Raft calls it)."""
        data = data or {}
        self.data = dict(data.get("data", {}))
        # In order of last use, as apply() keeps it (the snapshot lists them by name).
        self.sessions = {s: list(e) for s, e in sorted(data.get("sessions", {}).items(),
                                                        key=lambda item: (item[1][2], item[0]))}
        self.clock = float(data.get("clock", 0.0))
        self.applied_index = index
