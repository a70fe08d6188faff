"""benchmarks/quickstart.py: rounds alternate the builds, both get the same CLI settings, scores side by side."""

import argparse
import importlib.util
import os

from tiny_models import REPO_ROOT


def _bench():
    path = os.path.join(REPO_ROOT, "benchmarks", "quickstart.py")
    spec = importlib.util.spec_from_file_location("benchmark_quickstart", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rounds_alternate_which_build_runs_first():
    bench = _bench()
    assert [bench.order(["base", "new"], r) for r in range(3)] == [["base", "new"], ["new", "base"], ["base", "new"]]


def test_both_builds_get_the_given_settings_and_only_those():
    bench = _bench()
    args = argparse.Namespace(threads=1, epochs=2, max_rows=None, eval_steps=25)
    cmd = bench.quickstart_command("/tmp/o", args)
    assert cmd[1:] == ["-m", "textcl.cli", "quickstart", "--output", "/tmp/o", "--threads", "1", "--epochs", "2",
                       "--eval-steps", "25"]


def test_scores_of_both_builds_side_by_side():
    bench = _bench()
    row = {"model": "BiLSTM (after)", "stsb_dev": 74.905, "stsb_test": 65.2, "cr_accuracy": 73.8}
    table = bench.score_table({"base": {"rows": [row]}, "new": {"rows": [{**row, "stsb_dev": 74.9}]}})
    assert table.splitlines()[0] == "| model | score | base | new |"
    assert table.splitlines()[2] == "| BiLSTM (after) | STS-B dev | 74.91 | 74.90 |"
    assert len(table.splitlines()) == 2 + 3
