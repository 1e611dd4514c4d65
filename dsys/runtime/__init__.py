"""The real network runtime (trio): the same nodes as real processes."""
