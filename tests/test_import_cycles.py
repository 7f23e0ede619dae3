"""No import loops inside emoshift (CONTRIBUTING: no import cycles): counting imports made
inside functions and under ``TYPE_CHECKING``, no module reaches itself again."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "emoshift"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, modules: set[str]) -> set[str]:
    """The emoshift modules ``path`` imports anywhere in its text (a name imported from a
    package counts as its submodule when there is one)."""
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            start = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join([*start, *([node.module] if node.module else [])])
            found.update(
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                for alias in node.names
            )
    return (found & modules) - {_module_name(path)}


def _loop_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path of imports from ``start`` back to itself, or None."""
    stack, seen = [(start, [start])], set()
    while stack:
        module, path = stack.pop()
        for imported in sorted(graph[module]):
            if imported == start:
                return [*path, start]
            if imported not in seen:
                seen.add(imported)
                stack.append((imported, [*path, imported]))
    return None


def _import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module_name(path) for path in paths}
    return {_module_name(path): _imported(path, modules) for path in paths}


def test_loop_finder_sees_a_loop():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _loop_from("a", graph) == ["a", "b", "c", "a"]
    assert _loop_from("d", graph) is None


def test_no_module_imports_itself_back():
    graph = _import_graph()
    assert "emoshift.experiment.config" in graph["emoshift.experiment.plan"]
    loops = [loop for module in graph if (loop := _loop_from(module, graph))]
    assert not loops, "import loops: " + "; ".join(" -> ".join(loop) for loop in loops)
