"""The one error type of configuration, shared by every config dataclass."""


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the option."""
