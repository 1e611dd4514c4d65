"""Mutant: a replica writes what it stores to storage, but syncs only every half second.

Batching syncs is faster, but the acknowledgement goes out before the sync: a crash in
between loses a version that counted towards a put's W, and the put may vanish.

Caught by ``stored_versions_survive_a_crash``.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab8 = reference_module("lab8")


class DynamoNode(lab8.DynamoNode):
    def on_start(self) -> None:
        super().on_start()
        self.set_timer("sync", 0.5)

    def save(self, name: str, versions: tuple[lab8.Version, ...]) -> None:
        if versions:
            self.storage[name] = lab8.encode(versions)
        elif name in self.storage:
            del self.storage[name]
        # BUG: no sync here; the "sync" timer syncs later

    def on_timer(self, name: str) -> None:
        if name == "sync":
            self.storage.sync()
            self.set_timer("sync", 0.5)
            return
        super().on_timer(name)
