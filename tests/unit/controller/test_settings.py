"""Operator settings: flags, environment variables, and which wins."""

from __future__ import annotations

import pytest
from modelship.controller.settings import parse


def test_defaults_watch_everything_standalone_with_json_logs() -> None:
    config = parse([], {})
    assert config.clusterwide
    assert config.namespaces == ()
    assert config.standalone
    assert config.peering is None
    assert (config.log_level, config.log_format) == ("INFO", "json")
    assert config.metrics_port == 0
    assert config.prometheus_url is None


def test_flags() -> None:
    config = parse(
        [
            "-n",
            "a",
            "--namespace",
            "b",
            "--namespace",
            "a",
            "--prometheus-url",
            "http://p:9090",
            "--log-level",
            "debug",
            "--log-format",
            "console",
            "--peering",
            "modelship",
            "--metrics-port",
            "8080",
        ],
        {},
    )
    assert config.namespaces == ("a", "b")
    assert config.prometheus_url == "http://p:9090"
    assert (config.log_level, config.log_format) == ("DEBUG", "console")
    assert config.peering == "modelship"
    assert not config.standalone
    assert config.metrics_port == 8080


def test_environment_variables() -> None:
    env = {
        "MODELSHIP_NAMESPACES": "ml, serving,",
        "MODELSHIP_PROMETHEUS_URL": "http://p",
        "MODELSHIP_LOG_LEVEL": "warning",
        "MODELSHIP_LOG_FORMAT": "console",
        "MODELSHIP_PEERING": "ha",
        "MODELSHIP_METRICS_PORT": "9100",
    }
    config = parse([], env)
    assert config.namespaces == ("ml", "serving")
    assert (config.prometheus_url, config.log_level, config.log_format) == (
        "http://p",
        "WARNING",
        "console",
    )
    assert (config.peering, config.metrics_port) == ("ha", 9100)


def test_flags_win_over_environment() -> None:
    env = {"MODELSHIP_NAMESPACES": "ml", "MODELSHIP_PEERING": "ha", "MODELSHIP_LOG_FORMAT": "json"}
    config = parse(["--all-namespaces", "--standalone", "--log-format", "console"], env)
    assert config.clusterwide
    assert config.standalone
    assert config.log_format == "console"
    assert parse(["-n", "x"], env).namespaces == ("x",)


def test_standalone_environment_variable_disables_peering() -> None:
    assert parse([], {"MODELSHIP_PEERING": "ha", "MODELSHIP_STANDALONE": "true"}).standalone


@pytest.mark.parametrize(
    "argv",
    [
        ["--namespace", "a", "--all-namespaces"],
        ["--peering"],
        ["--log-format", "xml"],
        ["--log-level", "loud"],
    ],
)
def test_conflicting_or_unknown_values_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(argv, {})


def test_peering_priority_is_random_unless_given() -> None:
    drawn = {parse(["--peering", "ha"], {}).peering_priority for _ in range(5)}
    assert len(drawn) > 1, "replicas of one Deployment must not tie"
    assert parse(["--peering-priority", "7"], {}).peering_priority == 7
    assert parse([], {"MODELSHIP_PEERING_PRIORITY": "9"}).peering_priority == 9


def test_the_last_of_standalone_and_peering_wins() -> None:
    assert parse(["--peering", "x", "--standalone"], {}).standalone
    assert parse(["--standalone", "--peering", "x"], {}).peering == "x"
    assert parse([], {"MODELSHIP_PEERING": "ha", "MODELSHIP_STANDALONE": "1"}).standalone
