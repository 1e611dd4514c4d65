"""Lab 0's reference, whose client iterates over a set of strings.

When it is done, the client logs the distinct requests it sent. A set of strings is
iterated in the order of the strings' hashes, and Python salts those hashes with a seed
chosen afresh in every process (unless ``PYTHONHASHSEED`` fixes it): the log line, and so
the trace, changes from one process to the next.
"""

from __future__ import annotations

from dsys.labs import reference_module

lab0 = reference_module("lab0")  # the solution.py of the lab
Server = lab0.Server

__all__ = ["Client", "Server"]


class Client(lab0.Client):
    def finish(self) -> None:
        super().finish()
        distinct = set(self.requests)  # NONDETERMINISTIC: iterated below, in hash order
        self.log(f"{len(distinct)} distinct requests: {', '.join(distinct)}")
