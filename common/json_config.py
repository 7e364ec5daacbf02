"""Configs that travel as JSON: a component's execution property holds its config as text,
and the component rebuilds the dataclass from it."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, Dict, Type, TypeVar

Config = TypeVar("Config", bound="JsonConfig")


class JsonConfig:
    """to_json / from_json for a frozen config dataclass: nested config dataclasses are
    rebuilt by their field's type, JSON lists become tuples."""

    def to_json(self) -> str:
        """The config as JSON, keys sorted, so that equal configs give equal text (and equal
        TFX cache keys)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_json(cls: Type[Config], text: str) -> Config:
        """The config that `to_json` wrote."""
        return _build(cls, json.loads(text))


def _build(cls: Any, values: Dict[str, Any]) -> Any:
    types = typing.get_type_hints(cls)
    fields: Dict[str, Any] = {}
    for name, value in values.items():
        if dataclasses.is_dataclass(types[name]):
            value = _build(types[name], value)
        elif isinstance(value, list):
            value = tuple(value)
        fields[name] = value
    return cls(**fields)
