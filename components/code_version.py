"""Digests of this project's code, for the cache keys of the components that run it.

TFX keys a component's cache on its parameters and inputs, not on the code a module path such
as `trainer.task.run_fn` names: after an edit to the model, an otherwise unchanged run would
be served the old model from the cache. Each component that runs this project's code takes a
digest of that code as a parameter instead, so an edit re-runs exactly the components it can
change.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from typing import Iterable

# The parameter (or custom_config entry) that carries a digest.
CODE_VERSION_KEY = "code_version"
# What each component runs: ExampleGen and Transform only `components`; the Trainer also the
# model and its export.
DATA_CODE = ("components",)
MODEL_CODE = ("components", "trainer", "serving")


def digest_of(directories: Iterable[str]) -> str:
    """A digest of the Python sources under `directories` (names and contents)."""
    digest = hashlib.sha256()
    for directory in directories:
        for folder, subfolders, names in os.walk(directory):
            subfolders.sort()
            for name in sorted(n for n in names if n.endswith(".py")):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, os.path.dirname(directory)).encode())
                with open(path, "rb") as source:
                    digest.update(source.read())
    return digest.hexdigest()[:16]


def digest(packages: Iterable[str]) -> str:
    """The digest of the named installed packages' sources."""
    return digest_of(importlib.util.find_spec(package).submodule_search_locations[0]
                     for package in packages)
