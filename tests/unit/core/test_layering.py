"""The house rules of ``docs/architecture.md``, read from the source: packages import only the
ones below them, no import circle, imports at the top, small modules and functions."""

from __future__ import annotations

import ast
from pathlib import Path

from paths import REPO

PACKAGE = REPO / "src" / "defectops"
#: bottom-up, as docs/architecture.md lists them: each may import only those before it
LAYERS = [
    "core",
    "data",
    "features",
    "models",
    "evaluation",
    "registry",
    "monitoring",
    "reporting",
    "training",
    "scoring",
    "engines",
    "ops",
    "serving",
    "cli",
]
#: where a function-level import of the package's own modules is allowed, and why
LATE_IMPORTS = {
    "cli": "verbs load heavy modules when they run, so --help stays fast",
    "engines/choose.py": "the Dask engine loads only when asked for",
}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def own_imports(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("defectops"):
            assert node.module is not None
            found.append((node, node.module))
            # ``from defectops.x import y`` may name the module defectops.x.y
            found += [(node, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node, a.name) for a in node.names if a.name.startswith("defectops")]
    return found


def module_name(relative: str) -> str:
    parts = relative.removesuffix(".py").split("/")
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(["defectops", *parts])


def test_packages_import_only_the_packages_below_them() -> None:
    wrong = []
    for relative, tree in modules().items():
        here = relative.split("/")[0]
        if here not in LAYERS:
            continue
        for _, target in own_imports(tree):
            there = target.split(".")[1] if "." in target else ""
            if there in LAYERS and LAYERS.index(there) > LAYERS.index(here):
                wrong.append(f"{relative} imports {target}")
    assert wrong == []


def load_time_imports(tree: ast.Module) -> set[str]:
    """What loading the module imports, ``if TYPE_CHECKING:`` blocks included (a dependency of
    the design even when not of the run); imports inside functions happen later."""
    outer = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
    return {t for node in outer for _, t in own_imports(node)}


def import_graph() -> dict[str, set[str]]:
    trees = modules()
    names = {module_name(relative): relative for relative in trees}
    return {
        name: {t for t in load_time_imports(trees[relative]) if t in names and t != name}
        for name, relative in names.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back() -> None:
    assert circles(import_graph()) == []


def test_own_modules_are_imported_at_the_top() -> None:
    late = []
    for relative, tree in modules().items():
        if relative.split("/")[0] in LATE_IMPORTS or relative in LATE_IMPORTS:
            continue
        top = set(map(id, tree.body))
        checking = [n for n in tree.body if isinstance(n, ast.If)]  # if TYPE_CHECKING:
        typed = {id(child) for block in checking for child in ast.walk(block)}
        for node, target in own_imports(tree):
            if id(node) not in top and id(node) not in typed:
                late.append(f"{relative}:{node.lineno} {target}")
    assert late == []


def test_modules_and_functions_stay_small() -> None:
    big = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            big.append(f"{path.relative_to(PACKAGE)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    big.append(f"{path.relative_to(PACKAGE)}:{node.name}: {length} lines")
    assert big == []


def test_the_rules_can_see_a_break(tmp_path: Path) -> None:
    """The checks above find what they look for: a circle, a late import, a long function."""
    assert {t for _, t in own_imports(ast.parse("from defectops.b import x"))} == {
        "defectops.b",
        "defectops.b.x",
    }
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    late = ast.parse("def f():\n    from defectops.core import atomic\n")
    (node, _), *_ = own_imports(late)
    assert id(node) not in set(map(id, late.body))
    long = ast.parse("def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES)
    function = long.body[0]
    assert (function.end_lineno or 0) - function.lineno + 1 > MAX_FUNCTION_LINES
