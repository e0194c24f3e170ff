"""Reading configuration files: JSON parsed once into typed, bounded values; errors name file and key.

Every module and encoder family reads its own settings with :func:`setting` (one typed value) or
:func:`read_settings` (a table of them), so a setting of the wrong type (``"do_lower_case":
"false"``), out of bounds (``"num_hidden_layers": 1e9``) or missing is refused with the file and the
key, never coerced. ``modules.json`` (:func:`read_modules_json`) and
``config_sentence_transformers.json`` (:func:`read_model_settings`) are read here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfst.errors import ConfigError
from tfst.folder_paths import path_inside
from tfst.text_checks import utf8_problem

REQUIRED = object()


def _load_json(path: Path, expected: type) -> Any:
    if not path_inside(path.parent, path.name).is_file():
        raise FileNotFoundError(f"{path} not found")
    try:
        with open(path, encoding="utf-8") as file:
            value = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid JSON: {error}") from error
    except RecursionError:
        raise ConfigError(f"{path} is nested too deeply to be a configuration file") from None
    if not isinstance(value, expected):
        raise ConfigError(
            f"{path}: expected a JSON {'object' if expected is dict else 'array'}, "
            f"got {type(value).__name__}"
        )
    return value


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object; a missing, malformed or non-object file raises an error naming it."""
    return _load_json(path, dict)


def read_optional_json(path: Path) -> dict[str, Any]:
    """:func:`read_json`, or ``{}`` when the file does not exist."""
    return read_json(path) if path.is_file() else {}


@dataclass(frozen=True)
class Setting:
    """One configuration value: its key, type and bounds, and its default.

    ``kind`` is ``int``, ``float``, ``bool`` or ``str`` (``float`` accepts integers; ``int``
    accepts whole floats such as ``128.0``, as JSON writers produce them). ``nullable`` admits
    ``null``. ``choices`` restricts values.
    """

    key: str
    kind: type
    default: Any = REQUIRED
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    nullable: bool = False


def setting(raw: dict[str, Any], spec: Setting, path: Path | str) -> Any:
    """The value of ``spec.key`` in ``raw``, checked against ``spec``; errors name ``path``."""
    if spec.key not in raw:
        if spec.default is REQUIRED:
            raise ConfigError(f"{path}: missing {spec.key}")
        return spec.default
    value = raw[spec.key]
    if value is None and spec.nullable:
        return None
    kind = spec.kind
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    expected = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    if not ok:
        raise ConfigError(
            f"{path}: {spec.key} must be {expected.get(kind, kind.__name__)}"
            + (" or null" if spec.nullable else "")
            + f", got {value!r:.80}"
        )
    if spec.choices and value not in spec.choices:
        raise ConfigError(
            f"{path}: {spec.key} {value!r:.80} is not supported; supported are "
            + ", ".join(repr(choice) for choice in spec.choices)
        )
    if (spec.minimum is not None and value < spec.minimum) or (
        spec.maximum is not None and value > spec.maximum
    ):
        bounds = " and ".join(
            f"{word} {bound:g}"
            for word, bound in ((">=", spec.minimum), ("<=", spec.maximum))
            if bound is not None
        )
        raise ConfigError(f"{path}: {spec.key} must be {bounds}, got {value!r:.80}")
    return value


def read_settings(
    raw: dict[str, Any], specs: dict[str, Setting], path: Path | str
) -> dict[str, Any]:
    """``{name: value}`` for a table of named :class:`Setting` s."""
    return {name: setting(raw, spec, path) for name, spec in specs.items()}


@dataclass(frozen=True)
class ModuleEntry:
    """One entry of ``modules.json``: its position, name, sub-folder and type."""

    index: int
    name: str
    path: str
    type: str


def read_modules_json(path: Path) -> list[ModuleEntry]:
    """The entries of ``modules.json``, sorted by ``idx``, each with a string type and path."""
    entries = _load_json(path, list)
    modules = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise ConfigError(f"{path}: entry {position} must be an object with a string type")
        index = setting(entry, Setting("idx", int, position, minimum=0), f"{path} entry {position}")
        module_path = entry.get("path", "")
        if not isinstance(module_path, str):
            raise ConfigError(f"{path}: entry {position} has a path that is not a string")
        name = entry.get("name", str(index))
        modules.append(ModuleEntry(index, str(name), module_path, entry["type"]))
    return sorted(modules, key=lambda module: module.index)


@dataclass(frozen=True)
class ModelSettings:
    """``config_sentence_transformers.json``: prompts and the defaults sentence-transformers keeps."""

    prompts: dict[str, str] = field(default_factory=dict)
    default_prompt_name: str | None = None
    similarity_fn_name: str | None = None
    truncate_dim: int | None = None


def read_model_settings(folder: Path) -> ModelSettings:
    """Prompts and defaults from ``config_sentence_transformers.json``, type-checked."""
    path = folder / "config_sentence_transformers.json"
    raw = read_optional_json(path)
    prompts = raw.get("prompts") or {}
    if not isinstance(prompts, dict) or not all(
        isinstance(name, str) and isinstance(text, (str, type(None)))
        for name, text in prompts.items()
    ):
        raise ConfigError(f"{path}: prompts must map prompt names to texts, got {prompts!r:.200}")
    for name, text in prompts.items():
        if text is not None and (problem := utf8_problem(text)):
            raise ConfigError(f"{path}: prompt {name!r:.100} holds {problem}, not text")
    names = {
        key: setting(raw, Setting(key, str, None, nullable=True), path)
        for key in ("default_prompt_name", "similarity_fn_name")
    }
    truncate_dim = setting(raw, Setting("truncate_dim", int, None, minimum=1, nullable=True), path)
    return ModelSettings(dict(prompts), truncate_dim=truncate_dim, **names)
