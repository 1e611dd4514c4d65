"""Mutant: a follower cuts its log after the entries of every AppendEntries it accepts,
a heartbeat included, conflict or not.

Figure 2, AppendEntries, step 3 deletes entries only when one *conflicts* with a new
one. A late or reordered AppendEntries (or a heartbeat sent before the leader knew the
follower had more) then cuts off entries the follower has already acknowledged, which
the leader may have counted to commit them.

Caught by ``late_and_stale_appends_change_nothing`` (and by ``fail_no_agree``).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab5 = reference_module("lab5")  # the solution.py of the lab


class RaftNode(lab5.RaftNode):
    def on_append_entries(self, src: str, msg: lab5.AppendEntries) -> None:
        if (msg.term >= self.current_term and msg.prev_log_index <= self.last_log_index()
                and self.term_at(msg.prev_log_index) == msg.prev_log_term):
            self.truncate_log(msg.prev_log_index)  # BUG: no conflict, nothing to delete
        super().on_append_entries(src, msg)
