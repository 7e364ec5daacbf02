"""Digests of this project's code, for the cache keys of the components that run it.

TFX keys a component's cache on its parameters and inputs, not on the code a module path such
as `trainer.task.run_fn` names: after an edit to the model, an otherwise unchanged run would
be served the old model from the cache. Each component that runs this project's code takes a
digest of that code as a parameter instead: the sources of the modules it runs and of every
project module they import, at any depth (imports inside functions count: they run too). So an
edit re-runs exactly the components that can run the edited code, and what follows them: an
edit to the Pusher re-runs the Pusher (and the report after it), an edit to the model the
Trainer and after, an edit to the serving client only the report.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
from typing import Dict, Iterable, Optional, Set

# The parameter (or custom_config entry) that carries a digest.
CODE_VERSION_KEY = "code_version"
# The packages whose code a component can run; imports of anything else are libraries.
PROJECT_PACKAGES = ("common", "components", "serving", "trainer")

# What each component runs (its entry modules).
EXAMPLE_GEN_CODE = ("components.example_gen.executor",)
SCHEMA_GEN_CODE = ("components.schema_gen.component",)
STATISTICS_GEN_CODE = ("components.statistics_gen.executor",)
DATA_GATE_CODE = ("components.data_gate.component",)
DRIFT_CHECK_CODE = ("components.drift_check.component",)
TRANSFORM_CODE = ("components.transform.preprocessing",)
TRAINER_CODE = ("trainer.task", "components.trainer.local_workers")
EVALUATOR_CODE = ("components.evaluator.metrics",)
SERVABLE_CHECK_CODE = ("components.servable_check.component",)
PUSHER_CODE = ("components.pusher.component",)
RUN_REPORT_CODE = ("components.run_report.component",)


def source_path(module: str) -> Optional[str]:
    """The file a module of this project is loaded from, or None for a name that is no module.
    Found on disk, without importing it: only its top-level package is located."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    base = os.path.join(list(spec.submodule_search_locations)[0], *rest)
    for path in (os.path.join(base, "__init__.py"), base + ".py"):
        if os.path.isfile(path):
            return path
    return None


def _resolved(name: str, packages: Iterable[str]) -> Optional[str]:
    """The module `name` names, its longest prefix that is one (`a.b.f` is `a.b`'s `f`)."""
    if name.split(".")[0] not in packages:
        return None
    while name and source_path(name) is None:
        name = name.rpartition(".")[0]
    return name or None


def _existing_source(module: str) -> str:
    path = source_path(module)
    if path is None:
        raise ModuleNotFoundError(f"no source file for module {module}")
    return path


def imports_of(module: str, packages: Iterable[str] = PROJECT_PACKAGES) -> Set[str]:
    """The modules of `packages` that `module` imports anywhere in its source."""
    path = _existing_source(module)
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read(), path)
    names: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    found = {_resolved(name, packages) for name in names}
    return {name for name in found if name and name != module}


def closure(modules: Iterable[str], packages: Iterable[str] = PROJECT_PACKAGES) -> Set[str]:
    """`modules`, the project modules they import at any depth, and the packages (their
    `__init__`) that hold any of them."""
    seen: Set[str] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parents = [module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)]
        todo.extend(imports_of(module, packages))
        todo.extend(parents)
    return seen


def digest(modules: Iterable[str], packages: Iterable[str] = PROJECT_PACKAGES) -> str:
    """A digest of the sources (names and contents) of `closure(modules, packages)`."""
    sha = hashlib.sha256()
    for module in sorted(closure(modules, packages)):
        sha.update(module.encode() + b"\0")
        with open(_existing_source(module), "rb") as source:
            sha.update(source.read())
    return sha.hexdigest()[:16]


def digests() -> Dict[str, str]:
    """Each component's digest, by the name of its entry modules' tuple above."""
    return {name: digest(modules) for name, modules in (
        ("example_gen", EXAMPLE_GEN_CODE), ("schema_gen", SCHEMA_GEN_CODE),
        ("statistics_gen", STATISTICS_GEN_CODE),
        ("data_gate", DATA_GATE_CODE), ("drift_check", DRIFT_CHECK_CODE),
        ("transform", TRANSFORM_CODE), ("trainer", TRAINER_CODE),
        ("evaluator", EVALUATOR_CODE), ("servable_check", SERVABLE_CHECK_CODE),
        ("pusher", PUSHER_CODE), ("run_report", RUN_REPORT_CODE))}
