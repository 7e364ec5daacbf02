"""The layout the README describes, checked on the source: which folders import which."""

import ast
import os
from typing import Dict, Set

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRODUCT = ("pipeline", "components", "trainer", "serving")
PACKAGES = PRODUCT + ("bench",)


def _module_name(path: str) -> str:
    name = os.path.relpath(path, REPO)[:-len(".py")].replace(os.sep, ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def _modules() -> Dict[str, str]:
    found = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(REPO, package)):
            for file in files:
                if file.endswith(".py"):
                    path = os.path.join(folder, file)
                    found[_module_name(path)] = path
    return found


def import_graph() -> Dict[str, Set[str]]:
    """Each module of this project -> the project's modules it imports, anywhere in its body
    (imports inside functions count: they run too)."""
    modules = _modules()
    graph: Dict[str, Set[str]] = {}
    for name, path in modules.items():
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read(), path)
        imported: Set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in PACKAGES:
                    # `from a import b` names module a.b when there is one, else a name in a
                    while target not in modules and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target in modules and target != name:
                        imported.add(target)
        graph[name] = imported
    return graph


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "bench.scale_benchmark" in graph["bench.commands"]  # imported in its handler only


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_never_imports_bench(package):
    offending = {module: sorted(t for t in targets if t.split(".")[0] == "bench")
                 for module, targets in import_graph().items()
                 if module.split(".")[0] == package}
    assert not {m: t for m, t in offending.items() if t}
