"""Mutant: the coordinator never asks a stand-in, whatever ``sloppy`` says.

Every quorum is strict: while a home is cut off or down, puts of its keys fail whenever
fewer than W other homes answer, and no hint is ever made.

Caught by ``a_sloppy_quorum_asks_stand_ins``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def fall_back(self, request: lab8.Request) -> None:
        pass  # BUG: silent homes are never replaced
