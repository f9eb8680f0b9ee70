"""Settings: one declaration, every source, and the derived files kept in step."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kapisup.options import OptionsError, load_options
from kapisup.options.render import render_docs, render_yaml
from kapisup.options.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def test_committed_docs_and_yaml_match_the_declaration():
    assert (ROOT / "docs" / "configuration.md").read_text() == render_docs()
    assert (ROOT / "conf" / "kapisup.yaml").read_text() == render_yaml()


def test_every_setting_is_in_the_docs_and_the_yaml():
    docs = render_docs()
    keys = yaml.safe_load(render_yaml())
    for setting in SETTINGS:
        assert f"`{setting.flag}`" in docs and f"`{setting.env}`" in docs
        if setting.name != "config":
            assert setting.name in keys


def test_shipped_yaml_loads_to_the_defaults():
    options = load_options(["--config", str(ROOT / "conf" / "kapisup.yaml")], environ={})
    defaults = load_options([], environ={})
    for setting in SETTINGS:
        if setting.name != "config":
            assert getattr(options, setting.attr) == getattr(defaults, setting.attr)


def test_flag_beats_env_beats_file_beats_default(tmp_path):
    config = tmp_path / "k.yaml"
    config.write_text("secure-port: 7001\ninsecure-port: 7002\nworkers: 3\n")
    options = load_options(["--config", str(config), "--secure-port", "7100"],
                           environ={"KAPISUP_INSECURE_PORT": "7200"})
    assert (options.secure_port, options.insecure_port, options.workers) == (7100, 7200, 3)
    assert options.source("secure_port") == "flag"
    assert options.source("insecure_port") == "env"
    assert options.source("workers") == "file"
    assert options.source("max_requests") == "default"


@pytest.mark.parametrize(("argv", "env", "message"), [
    (["--secure-port", "70000"], {}, "--secure-port (flag): must be a port from 0 to 65535"),
    ([], {"KAPISUP_WORKERS": "-1"}, "--workers (env KAPISUP_WORKERS): must be at least 0"),
    (["--request-timeout", "soon"], {}, "expected a duration"),
    (["--anonymous-auth=maybe"], {}, "expected true or false"),
    (["--cors-allowed-origins", "(unclosed"], {}, "invalid regular expression"),
    (["--authorization-mode", "RBAC2"], {}, "unknown mode 'RBAC2'"),
    (["--tls-cert-file", "a.crt"], {}, "must be given together"),
    (["--secure-port", "0", "--insecure-port", "0"], {}, "nothing to serve"),
    (["--no-such-flag"], {}, "unrecognized arguments"),
])
def test_bad_values_are_one_line_errors(argv, env, message):
    with pytest.raises(OptionsError) as caught:
        load_options(argv, environ=env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_config_file_errors(tmp_path):
    bad_key = tmp_path / "bad.yaml"
    bad_key.write_text("secure_port: 1\n")
    with pytest.raises(OptionsError, match="unknown setting 'secure_port'"):
        load_options(["--config", str(bad_key)], environ={})
    with pytest.raises(OptionsError, match="cannot read"):
        load_options(["--config", str(tmp_path / "missing.yaml")], environ={})


def test_durations_and_lists():
    options = load_options(["--request-timeout", "1m30s", "--graceful-timeout", "250ms",
                            "--cors-allowed-origins", "a.com, b.com"], environ={})
    assert options.request_timeout == 90.0
    assert options.graceful_timeout == 0.25
    assert options.cors_allowed_origins == ("a.com", "b.com")
