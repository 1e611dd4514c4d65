"""Exception groups from trio nurseries, turned back into the exception they stand for.

A nursery wraps whatever its tasks (or the body of its ``async with``) raise in a
:class:`BaseExceptionGroup`, even when that is one exception. A user should see that one
exception: the one-line :class:`~dsys.errors.ConfigError` of ``dsys run``, the
``AssertionError`` or ``trio.TooSlowError`` of a test using a client. A group that holds
several exceptions is a real group, and stays one.

Example:
    >>> from dsys.runtime.groups import unwrap_group
    >>> error = ValueError("the one problem")
    >>> unwrap_group(BaseExceptionGroup("outer", [ExceptionGroup("inner", [error])])) is error
    True
    >>> two = ExceptionGroup("two", [ValueError(1), KeyError(2)])
    >>> unwrap_group(two) is two
    True
"""

from __future__ import annotations


def unwrap_group(exc: BaseException) -> BaseException:
    """The only exception inside ``exc`` (through groups of one), or ``exc`` itself when
    it is not a group or holds more than one exception."""
    inner = exc
    while isinstance(inner, BaseExceptionGroup):
        if len(inner.exceptions) != 1:
            return exc
        inner = inner.exceptions[0]
    return inner
