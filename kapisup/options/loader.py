"""Load Options from defaults < config file < KAPISUP_* env < CLI flags, all from SETTINGS."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from kapisup import __version__
from kapisup.options.settings import BY_NAME, SETTINGS, Setting


class OptionsError(Exception):
    """A bad setting: the message is one line naming the flag."""


class Options:
    """Resolved settings, read as attributes (`options.secure_port`); immutable."""

    __slots__ = ("_sources", "_values")

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str] | None = None):
        object.__setattr__(self, "_values", dict(values))
        object.__setattr__(self, "_sources", dict(sources or {}))

    def __getattr__(self, attr: str) -> Any:
        try:
            return self._values[attr]
        except KeyError:
            raise AttributeError(attr) from None

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError("Options are immutable; use replace()")

    def replace(self, **changes: Any) -> Options:
        unknown = set(changes) - set(self._values)
        if unknown:
            raise AttributeError(f"unknown settings: {sorted(unknown)}")
        return Options({**self._values, **changes}, self._sources)

    def source(self, attr: str) -> str:
        """Where a value came from: default, file, env or flag."""
        return self._sources.get(attr, "default")



class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise OptionsError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="kapisup",
        description="A Kubernetes-style API server served by a pre-fork gevent supervisor.",
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--version", action="version", version=f"kapisup {__version__}")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for setting in SETTINGS:
        group = groups.setdefault(setting.group, parser.add_argument_group(setting.group))
        extra: dict[str, Any] = {}
        if setting.type.name == "bool":
            extra = {"nargs": "?", "const": "true"}
        elif setting.type.repeatable:
            extra = {"action": "append"}
        group.add_argument(
            setting.flag,
            dest=setting.attr,
            metavar=setting.type.name.upper(),
            help=f"{setting.help} [env {setting.env}; default {_default_text(setting)}]",
            **extra,
        )
    return parser


def _default_text(setting: Setting) -> str:
    if setting.default_doc is not None:
        return setting.default_doc
    return setting.type.render(setting.default) or '""'


def _parse(setting: Setting, raw: Any, where: str) -> Any:
    try:
        value = setting.type.parse(raw)
    except ValueError as err:
        raise OptionsError(f"{setting.flag} ({where}): {err}") from None
    if setting.check is not None:
        problem = setting.check(value)
        if problem:
            raise OptionsError(f"{setting.flag} ({where}): {problem}")
    return value


def _read_config_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as err:
        raise OptionsError(f"--config: cannot read {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        reason = " ".join(str(err).split())
        raise OptionsError(f"--config: {path} is not valid YAML: {reason}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise OptionsError(f"--config: {path} must hold a mapping of setting names")
    for key in data:
        if key not in BY_NAME or key == "config":
            raise OptionsError(f"--config: {path}: unknown setting {key!r}")
    return data


def load_options(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> Options:
    """Resolve every setting; raises OptionsError (exit code 2) on the first bad one."""
    environ = os.environ if environ is None else environ
    flags = vars(build_parser().parse_args(list(argv) if argv is not None else None))

    config_path = flags.get("config") or environ.get(BY_NAME["config"].env, "")
    from_file = _read_config_file(config_path) if config_path else {}

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.attr in flags:
            values[setting.attr] = _parse(setting, flags[setting.attr], "flag")
            sources[setting.attr] = "flag"
        elif setting.env in environ:
            values[setting.attr] = _parse(setting, environ[setting.env], f"env {setting.env}")
            sources[setting.attr] = "env"
        elif setting.name in from_file:
            values[setting.attr] = _parse(setting, from_file[setting.name], f"{config_path}")
            sources[setting.attr] = "file"
        else:
            values[setting.attr] = setting.default
    values["config"] = config_path
    _check_together(values)
    return Options(values, sources)


def _check_together(values: Mapping[str, Any]) -> None:
    """Rules that span settings, as kube-apiserver's Validate() does."""
    cert, key = values["tls_cert_file"], values["tls_private_key_file"]
    if bool(cert) != bool(key):
        raise OptionsError("--tls-cert-file and --tls-private-key-file must be given together")
    if values["secure_port"] == 0 and values["insecure_port"] == 0:
        raise OptionsError("--secure-port and --insecure-port are both 0: nothing to serve")
    same_address = values["bind_address"] in (values["insecure_bind_address"], "0.0.0.0")
    if values["secure_port"] and values["secure_port"] == values["insecure_port"] and same_address:
        raise OptionsError("--secure-port and --insecure-port name the same address")
