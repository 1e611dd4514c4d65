"""Mutant: a coordinator numbers its requests from 1 again after every restart.

A replica's answer to a request made before the crash (an acknowledgement held up by the
network) carries the number of a request made after the restart, and counts for it: a
put is acknowledged while a home has not stored *its* version, and a get may count a
reply about another key. (The grader's own bug, written to test the grader.)

Caught by ``late_answers_from_before_a_crash_do_not_count``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def on_start(self) -> None:
        super().on_start()
        self.next_op = 0  # BUG: numbers are reused by the next incarnation
