"""The package's import structure: no module imports, at load time, a module that imports it back.

An import circle makes a module's names depend on which module happened to be imported first
(half-initialised modules, ``ImportError: cannot import name``) and ties unrelated concepts
together. Imports inside functions (deferred, e.g. of optional extras) are not load-time edges
and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tfst

PACKAGE_ROOT = Path(tfst.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


def _load_time_imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The tfst modules ``path`` imports at module level (not inside functions or classes'
    methods), each resolved to the module itself, or the package for ``from package import x``
    when ``x`` is not a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks run only for type checkers
            continue
        if isinstance(node, ast.Import):
            edges |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    edges.add(f"{base}.{alias.name}")
                elif base in modules:
                    edges.add(base)
    return edges - {name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_package():
    modules = _modules()
    graph = {name: _load_time_imports(path, name, modules) for name, path in modules.items()}
    assert {"tfst", "tfst.loading", "tfst.text.tokenizer", "tfst.models.registry"} <= set(graph)
    assert "tfst.models.registry" in graph["tfst.modules.transformer"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_itself_back_at_load_time():
    modules = _modules()
    graph = {name: _load_time_imports(path, name, modules) for name, path in modules.items()}
    assert _cycles(graph) == []
