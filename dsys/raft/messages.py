"""The messages of Raft: the two RPCs of Figure 2 and their replies, and a log entry.

Raft's RPCs are requests and replies here, as plain one-way messages: a reply carries
what the sender needs to use it without remembering the request (the term it answers,
and for AppendEntries the index the follower now matches), so a late, duplicated or
reordered reply is harmless.

Example:
    >>> from dsys.raft.messages import AppendEntries, Entry
    >>> AppendEntries(term=2, leader="a", prev_log_index=0, prev_log_term=0,
    ...               entries=(Entry(2, "x"),), leader_commit=0)
    AppendEntries(term=2, leader='a', prev_log_index=0, prev_log_term=0, entries=(Entry(term=2, command='x'),), leader_commit=0)
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
    """

    term: int
    command: Any
    noop: bool = False

    @classmethod
    def no_op(cls, term: int) -> Entry:
        """The no-op entry of ``term``."""
        return cls(term, None, noop=True)

    def __repr__(self) -> str:
        if self.noop:
            return f"Entry(term={self.term}, noop=True)"
        return f"Entry(term={self.term}, command={self.command!r})"


@message
class RequestVote:
    """RequestVote RPC (Figure 2, §5.2): ``candidate`` asks for a vote in ``term``.

    With ``pre_vote`` it is the thesis's PreVote (§9.6): "would you vote for me in
    ``term``?"; nobody changes its term or vote for it.
    """

    term: int
    candidate: str
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False


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
    ``prev_log_index`` (of term ``prev_log_term``); also the heartbeat (no entries)."""

    term: int
    leader: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int


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
