"""Fixtures for the runtime tests: hosts running in this process."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from dsys import Node
from dsys.runtime import ClusterConfig, NodeHost
from dsys.runtime.groups import unwrap_group


@asynccontextmanager
async def running(cluster: ClusterConfig, factories: dict[str, Callable[[], Node]],
                  **options: Any) -> AsyncIterator[dict[str, NodeHost]]:
    """Run ``factories`` (id -> factory) as hosts of ``cluster`` in this process."""
    options.setdefault("echo_logs", False)
    options.setdefault("stderr", io.StringIO())
    hosts = {node_id: NodeHost(factory, node_id, cluster, **options)
             for node_id, factory in factories.items()}
    try:
        async with trio.open_nursery() as nursery:
            for host in hosts.values():
                await nursery.start(host.run)
            try:
                yield hosts
            finally:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:  # show the test's own failure, not a group of one
        single = unwrap_group(group)
        if single is group:
            raise
        raise single from None
