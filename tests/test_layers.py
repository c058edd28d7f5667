"""The layers, pinned: handler → service → storage, out through pure renderers, and no import circle.

Read with ast from the source, so nothing is imported to check it. Imports under `if TYPE_CHECKING:` are for
type hints only and don't count; imports inside functions do (they are a dependency all the same).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "storage", "schedules")

# Renderers may import result types and text helpers, never services.
RENDERER_MAY_IMPORT = ("bot.results", "bot.text", "bot.blocks", "storage.defaults")
RENDERER_LIBRARIES = {"slack_sdk", "pydantic"}

def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


MODULES = _modules()


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_in(node: ast.AST, module: str):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _type_checking_only(child):
            yield from (name for branch in child.orelse for name in _imports_in(branch, module))
            continue
        if isinstance(child, ast.Import):
            yield from (alias.name for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:  # relative: from this module's package, `level - 1` packages up
                package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
                base = ".".join([*package[: len(package) - child.level + 1], *([base] if base else [])])
            for alias in child.names:
                # `from bot import admin` names a module; `from bot.admin import AdminService` names a thing in one.
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
        yield from _imports_in(child, module)


def imports_of(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    return {name for name in _imports_in(tree, module) if name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_the_checker_sees_the_modules_and_their_imports():
    assert "bot.admin" in GRAPH and "handlers.alignment" in GRAPH and "storage.models" in GRAPH
    assert "bot.admin" in GRAPH["handlers.alignment"]
    assert "bot.container" not in GRAPH["bot.messaging"]  # imported for type hints only


def test_storage_imports_nothing_from_bot_or_handlers():
    wrong = {(module, name) for module, names in GRAPH.items() if _within(module, "storage")
             for name in names if _top(name) in ("bot", "handlers")}
    assert wrong == set()


def test_handlers_import_nothing_from_storage():
    wrong = {(module, name) for module, names in GRAPH.items() if _within(module, "handlers")
             for name in names if _top(name) == "storage"}
    assert wrong == set()


def test_renderers_import_result_types_not_services():
    wrong = set()
    for module, names in GRAPH.items():
        if not _within(module, "bot.blocks"):
            continue
        for name in names:
            if _top(name) in PACKAGES:
                allowed = any(_within(name, prefix) for prefix in RENDERER_MAY_IMPORT)
            else:
                allowed = _top(name) in sys.stdlib_module_names or _top(name) in RENDERER_LIBRARIES
            if not allowed:
                wrong.add((module, name))
    assert wrong == set()


def test_result_types_import_no_services_or_storage():
    wrong = {(module, name) for module, names in GRAPH.items() if _within(module, "bot.results")
             for name in names if _top(name) in PACKAGES
             # storage.defaults is data (rating labels), which renderers may read too.
             and not (_within(name, "bot.results") or _within(name, "bot.text") or name == "storage.defaults")}
    assert wrong == set()


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle among the project's modules, as the modules around it, or None."""
    inside = {module: {name for name in names if name in graph} for module, names in graph.items()}
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for name in sorted(inside[module]):
            if state.get(name) == "open":
                return path[path.index(name):] + [name]
            if name not in state and (cycle := visit(name)):
                return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(inside):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_among_bot_handlers_storage_and_schedules():
    # A package imports its own modules' names through __init__ only when it says so; leave packages' own
    # __init__ → child edges out, as they are how a package is a package, not a circle.
    graph = {module: {name for name in names if not _within(name, module)} for module, names in GRAPH.items()}
    assert find_cycle(graph) is None
