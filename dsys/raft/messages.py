"""The messages of Raft: the two RPCs of Figure 2, InstallSnapshot (Figure 13) and
TimeoutNow (leadership transfer, thesis §3.10), their replies, and a log entry.

Raft's RPCs are requests and replies here, as plain one-way messages: a reply carries
what the sender needs to use it without remembering the request (the term it answers,
and for AppendEntries the index the follower now matches), so a late, duplicated or
reordered reply is harmless.

Example:
    >>> from dsys.raft.messages import AppendEntries, Entry
    >>> AppendEntries(term=2, leader="a", prev_log_index=0, prev_log_term=0,
    ...               entries=(Entry(2, "x"),), leader_commit=0)
    AppendEntries(term=2, leader='a', prev_log_index=0, prev_log_term=0, entries=(Entry(term=2, command='x'),), leader_commit=0, seq=0)
"""  # noqa: E501

from __future__ import annotations

from typing import Any

from dsys.core.messages import message


@message
class Entry:
    """One log entry: the ``command`` for the state machine, and the ``term`` in which a
    leader received it (Figure 2, "log[]").

    With ``noop`` it is the no-op entry a new leader appends at the start of its term
    (§8): it has no command (``None``), takes an index like any entry, and is never
    handed to the state machine. Build one with :meth:`no_op`.

    With ``config`` it is a configuration entry (membership change, thesis §4.1): its
    command is ``{"voters": [...], "learners": [...]}``, the group from this entry on;
    never handed to the state machine either. Build one with :meth:`configuration`.
    """

    term: int
    command: Any
    noop: bool = False
    config: bool = False

    @classmethod
    def no_op(cls, term: int) -> Entry:
        """The no-op entry of ``term``."""
        return cls(term, None, noop=True)

    @classmethod
    def configuration(cls, term: int, voters: Any, learners: Any = ()) -> Entry:
        """The configuration entry of ``term`` for ``voters`` and ``learners``."""
        return cls(term, {"voters": sorted(voters), "learners": sorted(learners)},
                   config=True)

    @property
    def internal(self) -> bool:
        """True for Raft's own entries (no-op, configuration): not for the state machine."""
        return self.noop or self.config

    def __repr__(self) -> str:
        if self.noop:
            return f"Entry(term={self.term}, noop=True)"
        if self.config:
            return f"Entry(term={self.term}, config={self.command!r})"
        return f"Entry(term={self.term}, command={self.command!r})"


@message
class RequestVote:
    """RequestVote RPC (Figure 2, §5.2): ``candidate`` asks for a vote in ``term``.

    With ``pre_vote`` it is the thesis's PreVote (§9.6): "would you vote for me in
    ``term``?"; nobody changes its term or vote for it. With ``transfer`` the election
    was asked for by the leader (:class:`TimeoutNow`): voters grant it even though they
    heard from that leader lately (thesis §3.10).
    """

    term: int
    candidate: str
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False
    transfer: bool = False


@message
class RequestVoteReply:
    """The answer to a :class:`RequestVote`: ``term`` is the term the vote is for when
    ``granted``, else the voter's current term (so the candidate can update itself)."""

    term: int
    granted: bool
    pre_vote: bool = False


@message
class AppendEntries:
    """AppendEntries RPC (Figure 2, §5.3): replicate ``entries`` after the entry at
    ``prev_log_index`` (of term ``prev_log_term``); also the heartbeat (no entries).

    ``seq`` numbers the leader's rounds for ReadIndex (thesis §6.4): a reply echoes it, so
    the leader knows which of its rounds a majority has acknowledged.
    """

    term: int
    leader: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int
    seq: int = 0


@message
class AppendEntriesReply:
    """The answer to an :class:`AppendEntries`.

    On success, ``match_index`` is the index of the last entry the follower now holds in
    agreement with the leader. On a mismatch, ``conflict_term`` is the term of the
    follower's entry at ``prev_log_index`` (0: it has no entry there) and
    ``conflict_index`` the first index of that term in its log (or its log's length + 1):
    the leader skips back a whole term per round trip (accelerated log backtracking).
    """

    term: int
    success: bool
    match_index: int = 0
    conflict_index: int = 0
    conflict_term: int = 0
    seq: int = 0


@message
class InstallSnapshot:
    """InstallSnapshot RPC (Figure 13, §7): one chunk of the leader's snapshot, which
    replaces every entry through ``last_included_index`` (of ``last_included_term``).

    ``data`` is the chunk: characters ``offset``... of the snapshot's JSON text; ``done``
    marks the last chunk. ``voters`` and ``learners`` are the configuration at the
    snapshot's index (thesis §5.1: a snapshot carries its configuration).
    """

    term: int
    leader: str
    last_included_index: int
    last_included_term: int
    offset: int
    data: str
    done: bool
    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()


@message
class InstallSnapshotReply:
    """The answer to an :class:`InstallSnapshot`: ``done`` once the follower holds the
    snapshot of ``last_included_index`` (installed now or earlier, or covered by its
    committed log), else ``next_offset``, the chunk it wants next."""

    term: int
    last_included_index: int
    next_offset: int = 0
    done: bool = False


@message
class TimeoutNow:
    """Leadership transfer (thesis §3.10): the leader of ``term`` tells a caught-up
    follower to start an election at once."""

    term: int
