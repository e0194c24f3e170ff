"""The Router module (sentence-transformers >= 5; ``Asym`` before): one pipeline per task.

An asymmetric model sends queries and documents through different modules, e.g. a static
embedding for queries and a transformer for documents. The Router holds those routes and picks
one per call by task, exactly as sentence-transformers resolves it for text (modality
``"text"``):

1. ``route_mappings[(task, "text")]``, then ``[(task, None)]``, ``[(None, "text")]``,
   ``[(None, None)]``;
2. the route named like the task, then the route named ``"text"``;
3. a task that found nothing is an error; no task takes ``default_route`` (the first route when
   none is set and ``allow_empty_key``), or is an error without one.

``encode_query`` passes the task ``"query"``, ``encode_document`` ``"document"``, ``encode``
its ``task=``. Its folder holds ``router_config.json`` (``config.json`` for ``Asym``):
``types`` (module id → module type), ``structure`` (route → module ids), ``parameters``
(``default_route``, ``allow_empty_key``, ``route_mappings`` with keys written as Python tuples,
``"('query', 'text')"``), and one sub-folder per module id. A module listed in several routes
is one module, shared.
"""

from __future__ import annotations

import ast
import logging
import posixpath
from pathlib import Path

import keras

from tfst.config import ConfigError, read_json, read_optional_json
from tfst.files import write_json
from tfst.modules.base import PACKAGE, LoadOptions, Module

logger = logging.getLogger(__name__)

CONFIG_FILE = "router_config.json"
LEGACY_CONFIG_FILE = "config.json"
# tfst embeds text only, and sentence-transformers infers this modality for text.
MODALITY = "text"
STANDARD_TASKS = ("query", "document")
_PARAMETERS = ("default_route", "allow_empty_key", "route_mappings")


@keras.saving.register_keras_serializable(package="tfst")
class Router(Module):
    """Routes of modules, picked by task.

    Args:
        routes: route name → its modules; each route starts with an input module.
        default_route: the route of texts without a task; None means the first route if
            ``allow_empty_key``, else texts need a task.
        allow_empty_key: see ``default_route``.
        route_mappings: ``(task, modality)`` → route name; None in either place matches any.

    As a layer it runs the default route (``tokenize`` and ``call``); the model picks other
    routes through ``route(task)``.
    """

    type_names = ("Router", "Asym")
    saved_type = f"{PACKAGE}.base.modules.router.Router"
    folder_name = ""
    is_input = True

    def __init__(
        self,
        routes: dict[str, list[Module]],
        default_route: str | None = None,
        allow_empty_key: bool = True,
        route_mappings: dict[tuple, str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not routes:
            raise ValueError("a Router needs at least one route")
        for name, modules in routes.items():
            if not modules or not modules[0].is_input:
                raise ValueError(f"route {name!r} must start with a module that takes text")
            if any(module.is_input for module in modules[1:]):
                raise ValueError(f"route {name!r}: only its first module may take text")
        if default_route is not None and default_route not in routes:
            raise ValueError(f"default route {default_route!r} is not a route: {list(routes)}")
        mappings = {}
        for (task, modality), route in (route_mappings or {}).items():
            if route not in routes:
                raise ValueError(
                    f"route_mappings sends ({task!r}, {modality!r}) to {route!r}, which is not a "
                    f"route: {list(routes)}"
                )
            # As sentence-transformers: multimodal keys are sorted tuples.
            modality = tuple(sorted(modality)) if isinstance(modality, tuple) else modality
            mappings[(task, modality)] = route
        if allow_empty_key and default_route is None:
            default_route = next(iter(routes))
        self.default_route = default_route
        self.allow_empty_key = bool(allow_empty_key)
        self.route_mappings = mappings
        # Each module once (routes may share one), tracked by Keras in this list.
        self.route_modules = list(
            {id(module): module for ms in routes.values() for module in ms}.values()
        )
        positions = {id(module): index for index, module in enumerate(self.route_modules)}
        self._routes = {
            name: tuple(positions[id(module)] for module in modules)
            for name, modules in routes.items()
        }

    @property
    def routes(self) -> dict[str, list[Module]]:
        """Route name → its modules."""
        return {
            name: [self.route_modules[index] for index in indices]
            for name, indices in self._routes.items()
        }

    # --- picking a route ----------------------------------------------------------------------

    def resolve_route(self, task: str | None) -> str:
        """The name of the route for ``task``, as sentence-transformers resolves it for text."""
        for key in ((task, MODALITY), (task, None), (None, MODALITY), (None, None)):
            if key in self.route_mappings:
                return self.route_mappings[key]
        if task and task in self._routes:
            return task
        if MODALITY in self._routes:
            return MODALITY
        if task is not None:
            raise ValueError(
                f"no route found for task {task!r}; available routes: {self._describe_routes()}"
            )
        if self.default_route is None:
            raise ValueError(
                f"no route for texts without a task; available routes: {self._describe_routes()}."
                " Pass task= (or use encode_query / encode_document)"
            )
        return self.default_route

    def _describe_routes(self) -> str:
        routes = [f"task={name!r}" for name in self._routes]
        for task, modality in self.route_mappings:
            if modality is None:
                routes.append(f"task={task!r}")
            elif task is None:
                routes.append(f"modality={modality!r}")
            else:
                routes.append(f"(task={task!r}, modality={modality!r})")
        return ", ".join(routes)

    def route(self, task: str | None) -> list[Module]:
        return self.routes[self.resolve_route(task)]

    def tasks(self) -> tuple[str, ...]:
        """``query``, ``document`` and the route names, those that find a route."""
        tasks = []
        for task in (*STANDARD_TASKS, *self._routes):
            if task in tasks:
                continue
            try:
                self.resolve_route(task)
            except ValueError:
                continue
            tasks.append(task)
        return tuple(tasks)

    # --- the input-module protocol, for the default route ---------------------------------------

    @property
    def tokenizer(self):
        """The first route's tokenizer, as sentence-transformers' ``Router.tokenizer``."""
        return next(iter(self.routes.values()))[0].tokenizer

    @property
    def max_seq_length(self):
        """As sentence-transformers: the routes' input modules' one limit, the largest if they
        differ, None if none has one."""
        lengths = {
            modules[0].max_seq_length
            for modules in self.routes.values()
            if getattr(modules[0], "max_seq_length", None)
        }
        return max(lengths) if lengths else None

    @max_seq_length.setter
    def max_seq_length(self, value) -> None:
        for modules in self.routes.values():
            if hasattr(modules[0], "max_seq_length"):
                modules[0].max_seq_length = value

    def text_layers(self) -> list:
        layers = []
        for modules in self.routes.values():
            layers.extend(layer for layer in modules[0].text_layers() if layer not in layers)
        return layers

    def tokenize(self, strings) -> dict:
        """The default route's features for ``strings``."""
        return self.route(None)[0].tokenize(strings)

    def build(self, input_shape=None):
        for module in self.route_modules:
            if not module.built:
                module.build(None)
        self.built = True

    def call(self, features):
        for module in self.route(None):
            features = module(features)
        return features

    def compute_output_spec(self, features):
        for module in self.route(None):
            features = module.compute_output_spec(features)
        return features

    def output_dimension(self, input_dimension=None) -> int | None:
        """The default route's width (the first route's without one)."""
        try:
            modules = self.route(None)
        except ValueError:
            modules = next(iter(self.routes.values()))
        width = None
        for module in modules:
            width = module.output_dimension(width)
        return width

    def describe(self) -> str:
        routes = "; ".join(
            f"{name}: {' → '.join(module.describe() for module in modules)}"
            for name, modules in self.routes.items()
        )
        return f"Router(default_route={self.default_route!r}; {routes})"

    # --- folders --------------------------------------------------------------------------------

    @classmethod
    def from_folder(cls, folder: Path, options: LoadOptions | None = None) -> Router:
        # The registry imports this module, so it is looked up when a Router is read.
        from tfst.modules import module_class

        path, config = _read_config(folder)
        types, structure, parameters = _config_parts(config, path)
        modules = {}
        for module_id, module_type in types.items():
            where = f"{path} (module {module_id!r})"
            module_cls = module_class(module_type, where)
            if module_cls is Router:
                raise ConfigError(f"{where}: a Router inside a Router is not supported")
            module_folder = folder / module_id
            if module_cls.has_folder and not module_folder.is_dir():
                raise FileNotFoundError(f"{module_folder} not found ({where})")
            modules[module_id] = module_cls.from_folder(module_folder, options)
        routes = {}
        for name, module_ids in structure.items():
            unknown = [module_id for module_id in module_ids if module_id not in modules]
            if unknown:
                raise ConfigError(f"{path}: route {name!r} lists modules not in types: {unknown}")
            routes[name] = [modules[module_id] for module_id in module_ids]
        try:
            return cls(routes, **parameters, name="router")
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None

    @classmethod
    def weight_folders(cls, folder: Path) -> list[str]:
        from tfst.modules import module_class

        path, config = _read_config(folder)
        types, _, _ = _config_parts(config, path)
        return [
            module_id
            for module_id, module_type in types.items()
            if module_class(module_type, str(path)).has_weights
        ]

    def save(self, folder: Path) -> None:
        """sentence-transformers' layout: one ``{route}_{index}_{Class}`` folder per module."""
        module_ids = {}
        types = {}
        structure = {}
        for name, modules in self.routes.items():
            structure[name] = []
            for index, module in enumerate(modules):
                if id(module) not in module_ids:
                    module_id = f"{name}_{index}_{type(module).__name__}"
                    module_ids[id(module)] = module_id
                    types[module_id] = module.saved_type
                    (folder / module_id).mkdir(parents=True, exist_ok=True)
                    module.save(folder / module_id)
                structure[name].append(module_ids[id(module)])
        parameters = {
            "default_route": self.default_route,
            "allow_empty_key": self.allow_empty_key,
            "route_mappings": {str(key): route for key, route in self.route_mappings.items()},
        }
        write_json(
            folder / CONFIG_FILE,
            {"types": types, "structure": structure, "parameters": parameters},
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            modules=[keras.saving.serialize_keras_object(m) for m in self.route_modules],
            structure={name: list(indices) for name, indices in self._routes.items()},
            default_route=self.default_route,
            allow_empty_key=self.allow_empty_key,
            route_mappings=[[*key, route] for key, route in self.route_mappings.items()],
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        modules = [keras.saving.deserialize_keras_object(m) for m in config.pop("modules")]
        structure = config.pop("structure")
        routes = {
            name: [modules[index] for index in indices] for name, indices in structure.items()
        }
        mappings = {
            (task, tuple(modality) if isinstance(modality, list) else modality): route
            for task, modality, route in config.pop("route_mappings")
        }
        return cls(routes, route_mappings=mappings, **config)


def _read_config(folder: Path) -> tuple[Path, dict]:
    """``router_config.json``, or (empty or missing) ``config.json`` as ``Asym`` wrote it."""
    path = folder / CONFIG_FILE
    config = read_optional_json(path)
    if not config:
        path = folder / LEGACY_CONFIG_FILE
        config = read_json(path)
    return path, config


def _config_parts(config: dict, path: Path) -> tuple[dict[str, str], dict[str, list], dict]:
    """``types``, ``structure`` and the constructor's ``parameters``, checked."""
    types = config.get("types")
    if not isinstance(types, dict) or not all(
        isinstance(module_id, str) and isinstance(module_type, str)
        for module_id, module_type in types.items()
    ):
        raise ConfigError(f"{path}: types must map module ids to module types")
    for module_id in types:
        normalized = posixpath.normpath(module_id)
        if (
            not module_id
            or "\\" in module_id
            or posixpath.isabs(module_id)
            or normalized == "."
            or normalized.startswith("..")
        ):
            raise ConfigError(
                f"{path}: module id {module_id!r:.80} is not a folder inside the model"
            )
    structure = config.get("structure")
    if not isinstance(structure, dict) or not all(
        isinstance(route, str)
        and isinstance(module_ids, list)
        and all(isinstance(module_id, str) for module_id in module_ids)
        for route, module_ids in structure.items()
    ):
        raise ConfigError(f"{path}: structure must map route names to lists of module ids")
    raw = config.get("parameters", {})
    if not isinstance(raw, dict) or set(raw) - set(_PARAMETERS):
        raise ConfigError(
            f"{path}: parameters must be an object with keys among {', '.join(_PARAMETERS)}, "
            f"got {raw!r:.120}"
        )
    parameters = {}
    default_route = raw.get("default_route")
    if default_route is not None and not isinstance(default_route, str):
        raise ConfigError(f"{path}: default_route must be a route name or null")
    parameters["default_route"] = default_route
    allow_empty_key = raw.get("allow_empty_key", True)
    if not isinstance(allow_empty_key, bool):
        raise ConfigError(f"{path}: allow_empty_key must be true or false")
    parameters["allow_empty_key"] = allow_empty_key
    parameters["route_mappings"] = _route_mappings(raw.get("route_mappings") or {}, path)
    return types, structure, parameters


def _route_mappings(raw, path: Path) -> dict[tuple, str]:
    """Keys as sentence-transformers writes them (``str`` of a ``(task, modality)`` tuple) back
    to tuples; a key that is no Python literal is skipped with a warning, as it does."""
    if not isinstance(raw, dict) or not all(isinstance(route, str) for route in raw.values()):
        raise ConfigError(f"{path}: route_mappings must map keys to route names")
    mappings = {}
    for text, route in raw.items():
        try:
            key = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            logger.warning("%s: could not parse route_mappings key %r; skipped", path, text)
            continue
        if not (
            isinstance(key, tuple) and len(key) == 2 and _is_task(key[0]) and _is_modality(key[1])
        ):
            raise ConfigError(
                f"{path}: route_mappings key {text!r:.80} must be a (task, modality) tuple of "
                "strings or None"
            )
        mappings[key] = route
    return mappings


def _is_task(value) -> bool:
    return value is None or isinstance(value, str)


def _is_modality(value) -> bool:
    if isinstance(value, tuple):
        return all(isinstance(part, str) for part in value)
    return value is None or isinstance(value, str)
