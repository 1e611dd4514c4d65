"""Traces: recording, saving, loading, terminal views and space-time diagrams."""

from dsys.trace.events import EVENT_KINDS, Trace, TraceEvent, format_events

__all__ = ["EVENT_KINDS", "Trace", "TraceEvent", "format_events"]
