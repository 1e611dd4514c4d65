"""Model checking: search every interleaving of a small system of ordinary dsys nodes.

The same :class:`~dsys.core.node.Node` classes that run in the simulator and on a real
network are explored state by state: every order of message deliveries and timer firings,
and, within budgets, lost and duplicated messages and crashes. Breadth-first search finds
a shortest path to a broken invariant; depth-first search, iterative deepening and random
walks go deeper for less memory. A counterexample replays in the simulator, so it is an
ordinary trace: shown, drawn and checked like any other.

See :mod:`dsys.search.engine` for the model (what a state and a step are) and
:mod:`dsys.search.state` for what counts as a node's state.
"""

from dsys.search.engine import Search, SearchResult, StateView, Step
from dsys.search.state import canonical

__all__ = ["Search", "SearchResult", "StateView", "Step", "canonical"]
