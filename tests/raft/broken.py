"""Deliberately broken Raft variants: each is the real one with one rule changed, and
the checkers (or the search) must catch each."""

from __future__ import annotations

from dsys.raft import Raft


class ForgetfulVoter(Raft):
    """Never writes its vote to storage: after a crash it may vote twice in one term."""

    def set_term(self, term: int, *, voted_for: str | None) -> None:
        if term != self.current_term:
            self.storage[self._key("state")] = {"current_term": term, "voted_for": None}
        self.current_term, self.voted_for = term, voted_for


class CountsOldTerms(Raft):
    """Commits any entry a majority holds, whatever its term: the bug of Figure 8."""

    def advance_commit_index(self) -> None:
        for n in range(self.last_log_index, self.commit_index, -1):
            if self.has_majority(m for m, i in self.match_index.items() if i >= n):
                self.commit(n)
                return
