"""Settings: one declaration, derived flags, env vars, config keys and docs."""

from kapisup.options.loader import Options, OptionsError, load_options

__all__ = ["Options", "OptionsError", "load_options"]
