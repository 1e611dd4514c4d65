"""Mutant: on ``wrong group`` the client tries the same group again instead of asking the
controller for the latest configuration (it only asks once, at the start).

After a shard moves, every operation on it goes to the old group forever. Caught by
``join_then_leave`` (operations never complete).
"""

from __future__ import annotations

from dsys.labs import reference_module

lab10 = reference_module("lab10")
ShardKVServer = lab10.ShardKVServer

__all__ = ["ShardKVClient", "ShardKVServer"]


class ShardKVClient(lab10.ShardKVClient):
    def ask_controller(self) -> None:
        if self.config is None:
            super().ask_controller()
            return
        self.tried = 0  # BUG: round the same group again, after a pause
        self.set_timer("retry", self.RETRY)
