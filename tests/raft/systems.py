"""Small Raft systems for the model checker: three servers, one command.

Module-level classes, so the search can pickle its states (it deep-copies otherwise).
"""

from __future__ import annotations

from dsys import Node
from dsys.raft import Raft
from tests.raft.broken import CountsOldTerms, ForgetfulVoter


class OneCommand(Raft):
    """A Raft whose leader proposes one command, "x", as soon as it is elected (a client
    in the model would only multiply the states)."""

    def become_leader(self) -> None:
        super().become_leader()
        if not any(entry.command == "x" for entry in self.entries):
            self.start("x")


class ForgetfulOneCommand(ForgetfulVoter, OneCommand):
    """:class:`OneCommand` with the vote never persisted."""


class OldTermsOneCommand(CountsOldTerms, OneCommand):
    """:class:`OneCommand` that commits earlier terms' entries by counting."""


def _options() -> dict[str, object]:
    # Plain Raft (no pre-vote or check-quorum): fewer steps to every state of interest.
    return {"pre_vote": False, "check_quorum": False}


class Server(Node):
    """A server holding :class:`OneCommand`."""

    raft_class: type[Raft] = OneCommand

    def __init__(self) -> None:
        super().__init__()
        self.raft = self.add_component(type(self).raft_class(**_options()))  # type: ignore


class ForgetfulServer(Server):
    """A server whose vote is not persisted."""

    raft_class = ForgetfulOneCommand


class OldTermsServer(Server):
    """A server that breaks the Figure 8 rule."""

    raft_class = OldTermsOneCommand
