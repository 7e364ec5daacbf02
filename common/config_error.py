"""The one error type of configuration, shared by every config dataclass."""

from typing import Any


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the option."""


def require(ok: bool, option: str, rule: str, value: Any) -> None:
    """Raises "`option` must be `rule`, got `value`" unless `ok`. Write `ok` as the rule
    itself (`0 < x <= 1`), never as its negation, so that NaN fails it."""
    if not ok:
        raise ConfigError(f"{option} must be {rule}, got {value!r}")
