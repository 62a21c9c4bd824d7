"""The dependency rules of docs/architecture.md, checked on the source so a change that breaks them fails here."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("assistant", "storage", "plugins", "ui")
# Who may import whom (the layers of ../shared/ARCHITECTURE.md: dependencies point down only).
ALLOWED = {
    "ui": {"ui", "assistant", "plugins", "storage"},
    "assistant": {"assistant", "plugins", "storage"},
    "plugins": {"plugins", "storage"},
    "storage": {"storage"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """First-party modules imported anywhere in the file (functions included), except under TYPE_CHECKING."""
    found: set[str] = set()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := resolve(alias.name)) is not None:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (target := resolve(f"{node.module}.{alias.name}")) is not None:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, set(modules)) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles_among_first_party_modules():
    graph = _graph()
    # A package's __init__ that re-exports its modules is a cycle only in name: the modules never import it.
    assert _cycles(graph) == []


def test_layers_depend_downwards_only():
    wrong = sorted(f"{src} imports {dst}" for src, targets in _graph().items() for dst in targets
                   if dst.split(".")[0] not in ALLOWED[src.split(".")[0]])
    # The one exception: `secondme` with no command opens the desktop window (a function-level import).
    assert wrong == ["assistant.cli.gui imports ui.main"]


# Private names of third-party libraries used on purpose, each for want of a public way: Chroma shares one
# in-memory index between clients of a folder, and only its registry says whether a closed client's is still live
# (storage/vector_index.py, before purging deleted vectors from its files).
THIRD_PARTY_INTERNALS = {"self.client._identifier", "SharedSystemClient._identifier_to_system"}


def test_no_service_reaches_into_the_app_or_private_parts_of_others():
    offenders = []
    for package in ("assistant", "storage", "plugins"):
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel == "assistant/app.py":
                continue
            text = path.read_text(encoding="utf-8")
            if "self.app." in text or "self.app =" in text:
                offenders.append(f"{rel}: self.app")
            tree = ast.parse(text)
            for node in ast.walk(tree):
                # obj.other._private(...) or obj.other._private: reaching into another object's private parts
                if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                        and ast.unparse(node) not in THIRD_PARTY_INTERNALS):
                    offenders.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []
