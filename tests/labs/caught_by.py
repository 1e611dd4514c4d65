"""Which graded test rejects each mutant of each lab: the first one, in the grader's order.

A mutant is written against one test (its docstring says which); this table lets the
library's tests check that this test, and no earlier one, is the one that rejects it
(``tests/labs/test_labs.py``). A mutant missing from the table must still lose points.

Labs are named by their short alias (``lab0``, ``lab1``...), which survives a renamed
folder; mutants by their file name without ``.py``.
"""

from __future__ import annotations

from pathlib import Path

from dsys.labs import Lab

CAUGHT_BY: dict[str, dict[str, str]] = {
    "lab0": {
        "ack_mismatch": "duplicates_and_reordering",
        "dedup_by_payload": "repeated_requests",
        "dedup_last_only": "duplicates_and_reordering",
        "gives_up": "lossy_network",
        "never_quiet": "quiet_when_done",
        "no_dedup": "lossy_network",
        "no_retransmission": "lossy_network",
        "timer_not_rearmed": "lossy_network",
        # Issue 11: efficiency, edge sizes, bounded windows.
        "resends_forever": "quiet_when_done",
        "retry_faster_than_a_round_trip": "message_budget",
        "empty_workload_never_done": "empty_workload",
        "wrapping_sequence_numbers": "many_requests",
        "gives_up_after_40_retries": "long_partition",
        "dedup_window_of_16": "long_reordering_delays",
    },
    "lab1": {
        "compare_ignores_missing": "compare_matches_happened_before",
        "deliver_on_receipt": "calm_network",
        "fifo_only": "calm_network",
        "late_count": "calm_network",
        "merge_takes_theirs": "increment_and_merge",
        "no_count": "calm_network",
        "no_dedup": "hold_back_drains",
        "no_rescan": "calm_network",
        "no_tick": "calm_network",
        "stamp_le_clock": "calm_network",
        # Issue 11: content-based dedup, bounded windows, efficiency.
        "dedup_by_payload": "repeated_payloads",
        "dedup_window_of_16": "long_reordering_delays",
        "resends_forever": "quiet_when_done",
        "relays_every_message": "message_budget",
    },
    "lab2": {
        "accepts_stale_replies": "duplicates_and_reordering",
        "dedup_by_request_id_only": "perfect_network",
        "executes_late_requests": "duplicates_and_reordering",
        "forgets_after_a_while": "lossy_network",
        "new_id_per_retry": "lossy_network",
        "no_duplicate_table": "lossy_network",
        "no_retry": "lossy_network",
        "one_entry_for_all_clients": "lossy_network",
        "reexecutes_duplicates": "lossy_network",
        "reuses_id_after_timeout": "partitions",
        "timeout_reports_fail": "partitions",
        # Issue 11: memory, efficiency, edge sizes, time bounds, bounded windows.
        "table_grows_in_nested_lists": "bounded_table",
        "resends_forever": "quiet_when_done",
        "retry_faster_than_a_round_trip": "message_budget",
        "wrapping_sequence_numbers": "many_operations",
        "wall_clock_timeout": "operations_end_in_time",
        "dedup_window_of_16": "long_reordering_delays",
    },
}


def table_of(lab: Lab) -> dict[str, str]:
    """The table of ``lab`` (empty if it has none), found by any of its names."""
    return next((CAUGHT_BY[name] for name in lab.names() if name in CAUGHT_BY), {})


def caught_by(lab: Lab, mutant: Path) -> str | None:
    """The test that should reject ``mutant`` first, or None if the table does not say."""
    return table_of(lab).get(mutant.stem)
