"""The wire codec: registered messages to JSON and back, strictly.

One cattrs converter, tagged by message type, forbidding unknown keys. A message on the
wire is an *envelope*::

    {"type": "app:Ping", "body": {"seq": 3}, "stamps": {"lamport": 7}}

``stamps`` is present only when layers (e.g. a Lamport clock) stamped the message.
Decoding builds only classes found in the message registry, checks every primitive
field's type (``"5"`` is not an ``int``, ``true`` is not an ``int``), and turns every
failure into a :class:`~dsys.errors.CodecError` that says what was wrong. Nothing is
ever unpickled or evaluated.

Numbers on the wire follow two rules, checked everywhere in a message (typed fields,
fields typed ``Any``, stamps):

* an integer is **signed 64-bit** (:data:`INT_MIN` .. :data:`INT_MAX`), the range that
  every mainstream language and msgpack hold exactly; a bigger one is refused, so a peer
  cannot make a node keep (and later fail to send) a 4,000-digit number;
* a float is **finite**: ``NaN`` and the infinities are not JSON, so they are refused when
  decoding (JSON's ``NaN`` / ``Infinity`` tokens too) and when encoding (with either codec).

The simulator sends every message through :func:`encode` and :func:`decode` by default,
so a message that could not cross a real network fails in the simulator first.

Example:
    >>> from dsys import message
    >>> from dsys.core import codec
    >>> @message(name="doc:Greeting")
    ... class Greeting:
    ...     text: str
    ...     tags: tuple[str, ...] = ()
    >>> data = codec.dumps(codec.encode(Greeting("hi", ("a",))))
    >>> data
    b'{"type":"doc:Greeting","body":{"text":"hi","tags":["a"]}}'
    >>> codec.decode(codec.loads(data))
    Greeting(text='hi', tags=('a',))
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, cast, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError

from dsys.core.messages import lookup_message, message_tag, short_name
from dsys.errors import CodecError

#: The smallest and largest integers a message may carry (signed 64-bit).
INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1


def _shown(value: Any) -> str:
    """``repr(value)``, cut short: an error about a value must not copy a megabyte of it."""
    if value.__class__ is int and value.bit_length() > 200:  # (str() of it may be refused)
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:80]}... ({len(text)} characters)"


def _number_problem(value: Any) -> str | None:
    """Why the int or float ``value`` cannot cross the wire, or None."""
    if isinstance(value, float):
        if _isfinite(value):
            return None
        return f"{value!r} is not a finite number (NaN and infinities cannot cross the wire)"
    if INT_MIN <= value <= INT_MAX:
        return None
    return f"{_shown(value)} is out of range (integers on the wire are signed 64-bit)"


_isfinite = math.isfinite


def wire_value_problem(value: Any) -> str | None:
    """Why ``value`` (a JSON-like value: dicts, lists, tuples, primitives) cannot cross the
    wire, or None: an integer out of the signed 64-bit range or a float that is not finite,
    anywhere inside it.

    >>> wire_value_problem({"clock": [1, 2.5, "x"]}) is None
    True
    >>> wire_value_problem({"clock": [1, float("nan")]})
    'nan is not a finite number (NaN and infinities cannot cross the wire)'
    >>> wire_value_problem(2 ** 63)
    '9223372036854775808 is out of range (integers on the wire are signed 64-bit)'
    """
    if value.__class__ is dict:  # the common case first: an object of plain values
        for item in value.values():
            kind = item.__class__
            if kind is str or kind is bool or item is None or (
                    kind is int and INT_MIN <= item <= INT_MAX) or (
                    kind is float and _isfinite(item)):
                continue
            break  # something else: the general walk below
        else:
            return None
    stack = [value]
    while stack:  # a loop, not recursion: a deeply nested value cannot exhaust the stack
        item = stack.pop()
        kind = item.__class__
        if kind is int:
            if INT_MIN <= item <= INT_MAX:
                continue
        elif kind is float:
            if _isfinite(item):
                continue
        elif kind is str or kind is bool or item is None:
            continue
        elif kind is dict:
            stack.extend(item.values())
            continue
        elif kind is list or kind is tuple:
            stack.extend(item)
            continue
        elif isinstance(item, int | float):  # a subclass (an IntEnum member, say)
            item = float(item) if isinstance(item, float) else int(item)
        else:
            continue
        problem = _number_problem(item)
        if problem is not None:
            return problem
    return None


def _structure_int(value: Any, _: Any) -> int:
    if value.__class__ is int and INT_MIN <= value <= INT_MAX:
        return value
    raise _number_error("int", value)


def _structure_float(value: Any, _: Any) -> float:
    kind = value.__class__
    if kind is float:
        if _isfinite(value):
            return cast(float, value)
    elif kind is int and INT_MIN <= value <= INT_MAX:
        return float(value)
    raise _number_error("float", value)


def _number_error(expected: str, value: Any) -> Exception:
    # bool is a subclass of int: it is refused where an int or float is expected.
    if value.__class__ not in (int, float) or (expected == "int" and value.__class__ is float):
        return TypeError(f"expected {expected}, got {type(value).__name__} {_shown(value)}")
    return ValueError(_number_problem(value))


def _strict(kind: type, accepted: tuple[type, ...]) -> Any:
    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} "
                            f"{_shown(value)}")
        return value

    return structure


def _structure_any(value: Any, _: Any) -> Any:
    # A field typed Any (or object) takes any JSON value, but its numbers follow the rules.
    problem = wire_value_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _unstructure_float(value: float) -> float:
    # Encoding: NaN and infinities fail at the sender, with either codec (JSON refuses
    # them anyway; msgpack would send them).
    if _isfinite(value):
        return value
    raise ValueError(f"{value!r} is not a finite number (NaN and infinities cannot cross "
                     "the wire)")


def _unstructure_any(conv: cattrs.Converter) -> Any:
    """The hook for fields typed ``Any``: what ``conv.unstructure`` gives (a copy, so an
    envelope never aliases the node's state), faster for plain JSON values, which are
    most of them. Anything else (sets, tuples, attrs instances, subclasses, non-string
    keys) goes through the converter as before."""
    dispatch = conv.unstructure
    leaves = frozenset((str, int, bool, type(None)))  # kept as they are

    def unstructure(value: Any) -> Any:
        kind = value.__class__
        if kind in leaves:
            return value
        if kind is dict:
            return {(k if k.__class__ is str else dispatch(k)):
                    (v if v.__class__ in leaves else unstructure(v))
                    for k, v in value.items()}
        if kind is list:
            return [v if v.__class__ in leaves else unstructure(v) for v in value]
        if kind is float:
            return _unstructure_float(value)
        return dispatch(value)

    return unstructure


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def make_converter(*, quick: bool = True) -> cattrs.Converter:
    """The converter dsys uses on the wire: strict primitives, no unknown keys.

    ``quick``: messages whose fields are all plain (ints, strings, bools, floats, Any,
    ``str | None``) are built without the converter's per-field dispatch when the body
    is what the converter would accept unchanged (see :func:`_quick_structure`); the
    result, and any error, is the same either way."""
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(str, _strict(str, (str,)))
    conv.register_structure_hook(bool, _strict(bool, (bool,)))
    conv.register_structure_hook_func(lambda tp: tp is Any or tp is object, _structure_any)
    conv.register_unstructure_hook(float, _unstructure_float)
    plain = _unstructure_any(conv)
    conv.register_unstructure_hook_func(lambda tp: tp is Any or tp is object, plain)
    # Sets have no order; on the wire they become lists sorted by their JSON form, so the
    # bytes (and so trace digests) do not depend on PYTHONHASHSEED.
    conv.register_unstructure_hook_func(
        _is_set_type, lambda s: sorted((conv.unstructure(x) for x in s), key=_sort_key)
    )
    # Collections come only from JSON arrays (a string is not a tuple of characters) and
    # mappings only from JSON objects.
    conv.register_structure_hook_func(_is_array_type, lambda v, tp: _structure_array(conv, v, tp))
    conv.register_structure_hook_func(
        lambda tp: tp is dict or get_origin(tp) in (dict, Mapping),
        lambda v, tp: _structure_mapping(conv, v, tp),
    )
    if quick:
        conv.register_structure_hook_factory(
            lambda tp: _plain_fields(tp) is not None, lambda cls: _quick_structure(conv, cls))
    return conv


def _accepts_int(value: Any) -> bool:
    return value.__class__ is int and INT_MIN <= value <= INT_MAX


def _accepts_str_or_none(value: Any) -> bool:
    return value is None or value.__class__ is str


#: For each simple field type, what the converter's hook returns unchanged (anything
#: else, an int for a float say, is left to the hook itself).
_PLAIN: dict[Any, Callable[[Any], bool]] = {
    int: _accepts_int,
    str: lambda value: value.__class__ is str,
    bool: lambda value: value.__class__ is bool,
    float: lambda value: value.__class__ is float and _isfinite(value),
    Any: lambda value: wire_value_problem(value) is None,
    object: lambda value: wire_value_problem(value) is None,
}


def _plain_fields(cls: Any) -> list[tuple[str, Callable[[Any], bool], bool]] | None:
    """For a message class whose fields are all of the simple types of ``_PLAIN`` (or
    ``str | None``): ``(name, accepts, required)`` per field; None for any other type."""
    if not isinstance(cls, type) or "__dsys_tag__" not in vars(cls):
        return None
    try:
        attrs.resolve_types(cls)
    except Exception:  # an annotation that does not resolve: the converter says so
        return None
    plan = []
    for field in attrs.fields(cls):
        kind = field.type
        if not field.init or field.alias != field.name:
            return None
        accepts = _PLAIN.get(kind) if kind.__class__ is type or kind is Any else None
        if accepts is None and get_origin(kind) in (typing.Union, types.UnionType) \
                and set(get_args(kind)) == {str, type(None)}:
            accepts = _accepts_str_or_none
        if accepts is None:
            return None
        plan.append((field.name, accepts, field.default is attrs.NOTHING))
    return plan


def _quick_structure(conv: cattrs.Converter, cls: type) -> Any:
    """The structure hook of a message of plain fields: a body whose every field the
    converter would take as it is builds the message directly; any other body (a wrong
    type, an int for a float, a missing or unknown field) goes through the converter's
    own function, which converts it or explains what is wrong, exactly as before."""
    plan = _plain_fields(cls)
    assert plan is not None
    names = frozenset(name for name, _, _ in plan)
    slow: Callable[[Any, Any], Any] = cattrs.gen.make_dict_structure_fn(cls, conv)

    def structure(value: Any, _: Any) -> Any:
        if value.__class__ is dict and value.keys() <= names:
            fields = {}
            for name, accepts, required in plan:
                if name in value:
                    item = value[name]
                    if not accepts(item):
                        return slow(value, cls)
                    fields[name] = item
                elif required:
                    return slow(value, cls)
            return cls(**fields)
        return slow(value, cls)

    return structure


_ARRAY_ORIGINS = (tuple, list, set, frozenset, AbstractSet, Sequence)


def _is_array_type(tp: Any) -> bool:
    return tp in (tuple, list, set, frozenset) or get_origin(tp) in _ARRAY_ORIGINS


def _structure_array(conv: cattrs.Converter, value: Any, tp: Any) -> Any:
    if not isinstance(value, list):
        raise TypeError(f"expected a JSON array, got {type(value).__name__} {value!r}")
    origin = get_origin(tp) or tp
    args = get_args(tp)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise TypeError(f"expected {len(args)} items, got {len(value)}")
        return tuple(conv.structure(v, t) for v, t in zip(value, args, strict=True))
    item = args[0] if args else Any
    hook = conv.get_structure_hook(item)  # looked up once, not once per element
    items = [hook(v, item) for v in value]
    if origin in (set, frozenset, AbstractSet):
        return frozenset(items) if origin is not set else set(items)
    return list(items) if origin is list else tuple(items)


def _structure_mapping(conv: cattrs.Converter, value: Any, tp: Any) -> Any:
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__} {value!r}")
    key_type, value_type = get_args(tp) or (Any, Any)
    return {conv.structure(k, key_type): conv.structure(v, value_type) for k, v in value.items()}


def _is_set_type(tp: Any) -> bool:
    return tp in (set, frozenset) or get_origin(tp) in (set, frozenset, AbstractSet)


CONVERTER = make_converter()


def encode(msg: object, stamps: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The envelope (a JSON-ready dict) for a registered message."""
    try:
        tag = message_tag(type(msg))
    except TypeError:
        raise CodecError(
            f"{type(msg).__qualname__} is not a registered message type: decorate its class "
            "with @message so it can cross the network"
        ) from None
    try:
        body = CONVERTER.unstructure(msg)
    except Exception as exc:  # cattrs raises many kinds; all mean the same to the user
        raise CodecError(f"cannot encode {short_name(msg)}: {exc}") from exc
    envelope: dict[str, Any] = {"type": tag, "body": body}
    if stamps:
        envelope["stamps"] = dict(stamps)
        problem = wire_value_problem(envelope["stamps"])
        if problem is not None:
            raise CodecError(f"cannot encode the stamps of {short_name(msg)}: {problem}")
    return envelope


def decode(envelope: Any) -> Any:
    """Build the registered message described by ``envelope`` (see :func:`encode`).

    Raises :class:`CodecError` for anything that is not exactly a registered message
    (its stamps included: see :func:`stamps_of`).
    """
    if not isinstance(envelope, dict):
        raise CodecError(f"a message must be a JSON object, got {type(envelope).__name__}")
    extra = set(envelope) - {"type", "body", "stamps"}
    if extra:
        raise CodecError(f"unexpected keys in message envelope: {sorted(extra)}")
    tag = envelope.get("type")
    if not isinstance(tag, str):
        raise CodecError("message envelope has no string 'type'")
    cls = lookup_message(tag)
    if cls is None:
        raise CodecError(f"unknown message type {tag!r}: no class is registered under that tag")
    body = envelope.get("body", {})
    if not isinstance(body, dict):
        raise CodecError(f"body of {tag} must be a JSON object, got {type(body).__name__}")
    if "stamps" in envelope:
        stamps_of(envelope)
    try:
        return CONVERTER.structure(body, cls)
    except ForbiddenExtraKeysError as exc:
        raise CodecError(f"{cls.__name__} has no field(s) {sorted(exc.extra_fields)}") from None
    except ClassValidationError as exc:
        problems = "; ".join(cattrs.transform_error(exc, format_exception=_explain))
        raise CodecError(f"invalid {cls.__name__}: {problems}") from None
    except Exception as exc:
        raise CodecError(f"invalid {cls.__name__}: {exc}") from None


def _explain(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, TypeError | ValueError) and str(exc):
        return str(exc)
    return cattrs.v.format_exception(exc, type_)


# Built once: json.dumps with non-default options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def json_text(obj: Any) -> str:
    """Compact JSON text with dsys's one encoder (no NaN); raises ``TypeError`` or
    ``ValueError`` as ``json.dumps`` does (storage turns them into its own error)."""
    return _ENCODER.encode(obj)


def dumps(obj: Any) -> bytes:
    """Compact, canonical JSON bytes (keys in declaration order, no NaN)."""
    try:
        return _ENCODER.encode(obj).encode()
    except (TypeError, ValueError) as exc:
        raise CodecError(f"not JSON-serialisable: {exc}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows (NaN and infinities cannot cross "
                     "the wire)")


# Built once, like the encoder; refuses the NaN / Infinity / -Infinity tokens that
# Python's json would otherwise accept.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def loads(data: bytes | str) -> Any:
    """Parse JSON bytes, turning every failure into a :class:`CodecError`.

    Stricter than ``json.loads``: ``NaN``, ``Infinity`` and ``-Infinity`` are refused.
    """
    try:
        if not isinstance(data, str):
            data = data.decode(json.detect_encoding(data), "surrogatepass")
        return _DECODER.decode(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CodecError(f"malformed JSON: {exc}") from None


def stamps_of(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The stamps carried by an envelope (empty if none): a JSON object whose numbers
    follow the wire's rules (see the module docstring), else :class:`CodecError`."""
    stamps = envelope.get("stamps") or {}
    if not isinstance(stamps, dict):
        raise CodecError("message stamps must be a JSON object")
    problem = wire_value_problem(stamps)
    if problem is not None:
        raise CodecError(f"invalid stamps: {problem}")
    return stamps


_PRIMITIVES = frozenset({int, str, bool, type(None)})
_INFINITY = float("inf")


def _value_shape(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return int if INT_MIN <= value <= INT_MAX else None
    if kind in _PRIMITIVES:
        return kind
    if kind is float:
        # NaN and infinities cannot be written as JSON: never take the fast path with them.
        return float if value == value and -_INFINITY < value < _INFINITY else None
    if kind is tuple:
        shapes = tuple(_value_shape(v) for v in value)
        return None if None in shapes else (tuple, shapes)
    fields = getattr(kind, "__dsys_fields__", None)
    if fields is not None:
        shapes = tuple(_value_shape(getattr(value, f)) for f in fields)
        return None if None in shapes else (kind, shapes)
    return None


def wire_shape(msg: Any, stamps: Mapping[str, Any] | None = None) -> Any:
    """A hashable description of the types inside ``msg`` (and its stamps), or None.

    None unless ``msg`` is a registered message whose fields hold only JSON primitives
    (``int`` within :data:`INT_MIN` .. :data:`INT_MAX`, finite ``float``, ``str``,
    ``bool``, ``None``), tuples of them and nested messages of them. Two messages with the
    same shape take the same path through :func:`encode`, :func:`dumps`, :func:`loads` and
    :func:`decode`, so if one crossed the wire unchanged, so does the other: the simulator
    uses this to skip repeated checks.
    """
    cls = type(msg)
    getter = getattr(cls, "__dsys_getter__", None)
    if getter is None:
        return None
    # Fast case: every field is a primitive (one C-level pass over the values).
    values = getter(msg)
    types = tuple(map(type, values))
    if _PRIMITIVES.issuperset(types):
        if int in types:  # the type says nothing of the range: an int out of it never
            for value in values:  # takes the fast path (decoding refuses it)
                if value.__class__ is int and not INT_MIN <= value <= INT_MAX:
                    return None
        shape: Any = (cls, types)
    else:
        shape = _value_shape(msg)
    if shape is None:
        return None
    if not stamps:
        return shape
    stamp_shapes = tuple((k, _value_shape(v)) for k, v in stamps.items())
    if any(s is None for _, s in stamp_shapes):
        return None
    return (shape, stamp_shapes)


def holds_mutable(value: Any) -> bool:
    """True if ``value`` (a message or field value) contains a list, dict, set or bytearray.

    Such a message is copied on its way through the network: the receiver must not see
    later changes the sender makes to it. The simulator uses this to decide whether to
    check, at delivery, that the sender did not change a message after sending it.
    """
    if isinstance(value, list | dict | set | bytearray):
        return True
    if isinstance(value, tuple | frozenset):
        return any(holds_mutable(v) for v in value)
    if attrs.has(type(value)):
        return any(holds_mutable(getattr(value, a.name)) for a in attrs.fields(type(value)))
    return False
