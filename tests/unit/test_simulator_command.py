"""The ``simulate`` command line, without a broker."""

from __future__ import annotations

import pytest

from pipeline.cli import _parser, main
from pipeline.simulator.command import SCENARIO_NAMES
from pipeline.simulator.scenarios import SCENARIOS


def test_the_cli_offers_every_scenario() -> None:
    assert sorted(SCENARIO_NAMES) == sorted(SCENARIOS)


def test_flags_parse_with_durations() -> None:
    args = _parser().parse_args(["simulate", "--scenario", "network_outage", "--duration", "2m",
                                 "--latency-median", "30s", "--latency-p99", "4m",
                                 "--window", "30m", "--seed", "7"])
    assert (args.duration, args.latency_median, args.latency_p99, args.window) == (
        120.0, 30.0, 240.0, 1800.0)
    check = _parser().parse_args(["simulate", "--check", "t.jsonl", "--grace", "5s",
                                  "--horizon", "4h", "--min", "0.99"])
    assert (check.grace, check.horizon, check.minimum) == (5.0, 14400.0, 0.99)


def test_count_and_duration_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["simulate", "--count", "5", "--duration", "1m"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_check_refuses_generation_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--check", "t.jsonl", "--scenario", "healthy"]) == 2
    assert "--check takes no --scenario" in capsys.readouterr().err


def test_check_of_a_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--check", "/nonexistent/truth.jsonl"]) == 2
    assert "truth.jsonl" in capsys.readouterr().err
