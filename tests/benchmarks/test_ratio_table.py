"""benchmarks/: the ratio table every benchmark ends with, and the small helpers of the benchmarks."""

import importlib.util
import os
import sys

import pytest

from tiny_models import REPO_ROOT

BENCHMARKS = os.path.join(REPO_ROOT, "benchmarks")
sys.path.insert(0, BENCHMARKS)
from ratio_table import ratio_table  # noqa: E402  (benchmarks/ratio_table.py)

HELPERS = {"ratio_table.py", "tiny_bert.py"}


def _load(name):
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", os.path.join(BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ratio_is_each_figure_over_the_baseline():
    table = ratio_table({"slow": 40.0, "fast": 130.0, "same": 40.0}, "slow", "sentences/s", fmt=",.0f")
    assert table.splitlines() == ["| contender | sentences/s | / slow |", "|---|---:|---:|",
                                  "| slow | 40 | 1.00x |", "| fast | 130 | 3.25x |", "| same | 40 | 1.00x |"]


def test_given_ratios_and_notes_win_over_the_quotient():
    table = ratio_table({"a": 10.0, "b": 30.0}, "a", "MiB", ratios={"b": 2.5}, notes={"b": "rounds 2.1-2.9x"})
    assert table.splitlines()[0] == "| contender | MiB | / a | note |"
    assert table.splitlines()[3] == "| b | 30.0 | 2.50x | rounds 2.1-2.9x |"
    assert table.splitlines()[2] == "| a | 10.0 | 1.00x |  |"


def test_a_baseline_that_is_missing_or_zero_is_refused():
    with pytest.raises(ValueError, match="'c' is not one of the contenders: a, b"):
        ratio_table({"a": 1.0, "b": 2.0}, "c", "x")
    with pytest.raises(ValueError, match="figure of 0"):
        ratio_table({"a": 0.0, "b": 2.0}, "a", "x")


def test_every_benchmark_prints_ratios():
    scripts = sorted(f for f in os.listdir(BENCHMARKS) if f.endswith(".py") and f not in HELPERS)
    assert len(scripts) >= 8
    for name in scripts:
        with open(os.path.join(BENCHMARKS, name), encoding="utf-8") as f:
            text = f.read()
        # search.py and cpu_backends.py print the ratio as a column of their own wider tables
        assert ("ratio_table(" in text or "speed-up over exact" in text or "/ textcl float32" in text), name


def test_cnn_shapes_parse_and_bad_ones_are_refused():
    bench = _load("cnn_vs_bilstm_encode")
    assert bench.parse_cnn("1,2,3x300") == ((1, 2, 3), 300)
    with pytest.raises(SystemExit, match="WIDTHSxFILTERS"):
        bench.parse_cnn("3,4,5")


def test_training_steps_are_timed_after_the_warm_up():
    bench = _load("train")
    # stamps[i] is the end of step i + 1; with 2 warm-up steps, steps 3-6 are timed: (10 - 2) / 4
    assert bench.steady_seconds_per_step([1.0, 2.0, 4.0, 6.0, 8.0, 10.0], warmup=2) == pytest.approx(2.0)
