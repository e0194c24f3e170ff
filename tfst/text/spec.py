"""Reading the components of a ``tokenizer.json``: typed options and clear refusals.

A ``tokenizer.json`` names each stage by its ``type`` (``{"type": "BertNormalizer", ...}``). Each
tfst stage class reads its own options with :func:`option`, and the stage modules build
components through :func:`build_component`, which refuses a type it does not know, naming the
file, the place in it and the types that are supported. An option tfst does not implement is
refused the same way: a tokenizer is reproduced exactly or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tfst.errors import ConfigError

_MISSING = object()


class TokenizerSpecError(ConfigError):
    """A tokenizer file names a component or option tfst does not support, or is malformed."""


def describe(source: str, path: str) -> str:
    """Where a component sits: ``"folder/tokenizer.json, normalizer.normalizers[1]"``."""
    return f"{source}, {path}" if path else source


def option(
    spec: Mapping[str, Any],
    key: str,
    types: type | tuple[type, ...],
    where: str,
    default: Any = _MISSING,
) -> Any:
    """``spec[key]`` if it has one of ``types`` (bool is never taken for int), else an error.

    Without a ``default`` the key is required; ``None`` in ``types`` is spelled ``type(None)``.
    """
    types = types if isinstance(types, tuple) else (types,)
    if key not in spec:
        if default is _MISSING:
            raise TokenizerSpecError(f"{where}: missing {key!r}")
        return default
    value = spec[key]
    if isinstance(value, bool) and bool not in types:
        raise TokenizerSpecError(f"{where}: {key} must be {_type_names(types)}, got {value!r}")
    if not isinstance(value, types):
        raise TokenizerSpecError(f"{where}: {key} must be {_type_names(types)}, got {value!r:.100}")
    return value


def choice(spec: Mapping[str, Any], key: str, allowed: tuple, where: str, default: Any = _MISSING):
    """``spec[key]`` if it is one of ``allowed``; the error lists them."""
    if key not in spec and default is not _MISSING:
        return default
    value = option(spec, key, (str, bool, type(None), int), where)
    if value not in allowed:
        raise TokenizerSpecError(
            f"{where}: {key} {value!r} is not supported; supported are "
            + ", ".join(repr(item) for item in allowed)
        )
    return value


def build_component(kind: str, registry: Mapping[str, Any], spec: Any, where: str):
    """The component of ``registry`` named by ``spec["type"]``, built by its ``from_json``."""
    if not isinstance(spec, Mapping):
        raise TokenizerSpecError(f"{where}: the {kind} must be a JSON object, got {spec!r:.100}")
    type_name = spec.get("type")
    component = registry.get(type_name) if isinstance(type_name, str) else None
    if component is None:
        raise TokenizerSpecError(
            f"{where}: {kind} type {type_name!r} is not supported; supported are "
            + ", ".join(sorted(registry))
        )
    return component.from_json(spec, where)


def _type_names(types: tuple[type, ...]) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    return " or ".join(names.get(kind, kind.__name__) for kind in types)


_U64_MAX = 2**64 - 1
_POW10 = [float(f"1e{exponent}") for exponent in range(309)]


def serde_json_float(text: str) -> float:
    """A JSON number with a fraction or exponent, read exactly as `tokenizers` reads it.

    `tokenizers` parses ``tokenizer.json`` with serde_json's default number parser, which is not
    correctly rounded: it gathers at most 19-20 significant digits into a u64, rounds that to a
    double and divides (or multiplies) by one power of ten, rounding twice. About one score in
    eight of a typical Unigram vocab comes out one ulp away from Python's ``float(text)``, enough to
    break ties in the model differently. Pass this as ``json.loads(..., parse_float=...)``.
    """
    digits = text.lstrip("-")
    negative = len(digits) != len(text)
    mantissa, _, exponent_text = digits.replace("E", "e").partition("e")
    integer_digits, _, fraction_digits = mantissa.partition(".")
    significand, exponent = 0, 0
    all_digits = integer_digits + fraction_digits
    # Most numbers (every Unigram score) fit a u64 whole: the loops below would take every digit.
    if not exponent_text and len(all_digits) <= 19:
        value = float(int(all_digits)) / _POW10[len(fraction_digits)]
        return -value if negative else value
    for digit in integer_digits:
        if significand * 10 + int(digit) > _U64_MAX or exponent > 0:
            exponent += 1  # too long for a u64: later integer digits only scale it
        else:
            significand = significand * 10 + int(digit)
    for digit in fraction_digits:
        if significand * 10 + int(digit) > _U64_MAX:
            break  # too long for a u64: later fraction digits are ignored
        significand = significand * 10 + int(digit)
        exponent -= 1
    if exponent_text:
        written = int(exponent_text)
        if abs(written) > 2**31 - 1:
            if significand and written > 0:
                raise ValueError(f"number out of range: {text}")
            return -0.0 if negative else 0.0
        exponent = max(min(exponent + written, 2**31 - 1), -(2**31))
    value = float(significand)
    while True:
        if abs(exponent) < len(_POW10):
            if exponent >= 0:
                value *= _POW10[exponent]
                if math.isinf(value):
                    raise ValueError(f"number out of range: {text}")
            else:
                value /= _POW10[-exponent]
            break
        if value == 0.0:
            break
        if exponent >= 0:
            raise ValueError(f"number out of range: {text}")
        value /= 1e308
        exponent += 308
    return -value if negative else value
