"""Errors that a user of dsys can cause, and that the CLI reports in one line.

Every error a student or instructor can trigger (a bad option, a missing file, a malformed
history, a message that cannot cross the wire) is a subclass of :class:`DsysError`. The CLI
catches these and prints their message without a traceback; library code lets them
propagate so tests can assert on them.
"""

from __future__ import annotations


class DsysError(Exception):
    """Base class of the errors dsys reports to its users.

    ``exit_code`` is what the ``dsys`` command exits with when this error reaches it.
    """

    exit_code: int = 2


class UsageError(DsysError):
    """A bad option, argument or input file given to a dsys command or API."""


class ConfigError(DsysError):
    """A bad configuration: network settings, cluster file, simulation parameters."""


class CodecError(DsysError):
    """A message that cannot be encoded to, or decoded from, the wire format."""


class StorageError(DsysError):
    """Persistent state that cannot be trusted: a node's storage is corrupt or truncated.

    A protocol raises it when it restarts and finds its stored state inconsistent (a log
    entry missing, a field of the wrong type), naming where the storage lives and the
    field; the node stops rather than start empty and break its promises."""
