"""The protocol cost figures of the course, from one command.

1. Gossip: rounds and messages per node to spread one rumor to N nodes (push, pull,
   push-pull), against the random phone call model's log N expectations
   (``bench/gossip_rounds.py``).
2. Mutual exclusion: messages per critical-section entry for the central coordinator,
   Ricart-Agrawala and the token ring, against the textbook's 3, 2(N-1) and 1 to infinity
   (``bench/mutex_messages.py``).

Run from the repository root::

    python bench/protocols.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gossip_rounds
import mutex_messages


def main() -> None:
    print("== gossip: rounds to reach every node, against log N ==")
    gossip_rounds.main([])
    print()
    print("== mutual exclusion: messages per entry, against the textbook ==")
    mutex_messages.main([])


if __name__ == "__main__":
    main()
