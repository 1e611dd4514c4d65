"""One exception-group unwrap, shared by `dsys run` and the client."""

from __future__ import annotations

import pytest
import trio

from dsys.errors import ConfigError
from dsys.runtime import cli, client
from dsys.runtime.groups import unwrap_group


def test_a_group_of_one_is_its_exception_and_a_real_group_stays() -> None:
    error = ConfigError("one line")
    assert unwrap_group(BaseExceptionGroup("a", [BaseExceptionGroup("b", [error])])) is error
    two = ExceptionGroup("two", [ValueError(1), ConfigError("x")])
    assert unwrap_group(two) is two
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [ValueError(), KeyError()])])
    assert unwrap_group(nested) is nested
    assert unwrap_group(error) is error


def test_the_cli_and_the_client_use_it() -> None:
    assert client.unwrap_group is unwrap_group and not hasattr(client, "_single")

    async def fails_in_a_nursery() -> None:
        async def task() -> None:
            raise ConfigError("cannot listen: one line")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(task)

    with pytest.raises(ConfigError, match="cannot listen: one line"):
        cli._run_trio(fails_in_a_nursery)
