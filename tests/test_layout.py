"""The layout docs/development.md describes, checked on the source: which folders import which."""

import os
import subprocess
import sys
from typing import Dict, Set

import pytest

from components.code_version import imports_of

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRODUCT = ("common", "pipeline", "components", "trainer", "serving")
PACKAGES = PRODUCT + ("bench",)


def _module_name(path: str) -> str:
    name = os.path.relpath(path, REPO)[:-len(".py")].replace(os.sep, ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def import_graph() -> Dict[str, Set[str]]:
    """Each module of this project -> the project's modules it imports, anywhere in its body
    (imports inside functions count: they run too)."""
    modules = [_module_name(os.path.join(folder, file))
               for package in PACKAGES
               for folder, _, files in os.walk(os.path.join(REPO, package))
               for file in files if file.endswith(".py")]
    return {module: imports_of(module, PACKAGES) for module in modules}


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "bench.scale_benchmark" in graph["bench.commands"]  # imported in its handler only


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_never_imports_bench(package):
    offending = {module: sorted(t for t in targets if t.split(".")[0] == "bench")
                 for module, targets in import_graph().items()
                 if module.split(".")[0] == package}
    assert not {m: t for m, t in offending.items() if t}


def _cycles(graph: Dict[str, Set[str]]) -> list:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: list = []
    on_stack: Set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
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


def _folder(module: str, modules: Set[str]) -> str:
    """The package a module is in (a package's own __init__ is in itself)."""
    is_package = any(other.startswith(module + ".") for other in modules)
    return module if is_package else module.rsplit(".", 1)[0]


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules():
    assert _cycles(import_graph()) == []


def test_no_import_cycle_between_folders():
    graph = import_graph()
    folders: Dict[str, Set[str]] = {}
    for module, targets in graph.items():
        source = _folder(module, set(graph))
        folders.setdefault(source, set()).update(
            folder for folder in (_folder(t, set(graph)) for t in targets) if folder != source)
    assert _cycles(folders) == []


def test_the_serving_contract_and_the_client_load_without_tensorflow():
    """What a serving user imports needs no TensorFlow: the contract and the REST/gRPC client."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys, serving.contract, serving.client; "
                               "print(sorted(m for m in ('tensorflow', 'keras', 'tfx') "
                               "if m in sys.modules))"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
