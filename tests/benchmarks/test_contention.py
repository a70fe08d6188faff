"""benchmarks/contention.py: busy processes really run and stop, conditions alternate, the targets are judged."""

import importlib.util
import os
import time

from tiny_models import REPO_ROOT


def _bench():
    path = os.path.join(REPO_ROOT, "benchmarks", "contention.py")
    spec = importlib.util.spec_from_file_location("benchmark_contention", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_busy_processes_burn_cpu_then_stop(monkeypatch):
    bench = _bench()
    started = []
    real_popen = bench.subprocess.Popen
    monkeypatch.setattr(bench.subprocess, "Popen", lambda *a, **k: started.append(real_popen(*a, **k)) or started[-1])
    with bench.busy_processes(1):
        assert len(started) == 1 and started[0].poll() is None
        if os.path.exists(f"/proc/{started[0].pid}/stat"):
            time.sleep(0.3)
            assert _cpu_seconds(started[0].pid) > 0.05  # it computes, it does not sleep
    assert started[0].poll() is not None  # killed and reaped


def test_rounds_rotate_the_order():
    bench = _bench()
    assert [bench.rotate([0, 1, 2], r) for r in range(3)] == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    assert bench.rotate([], 5) == []


def test_report_judges_the_targets(capsys):
    bench = _bench()
    names = ["tc-default", "st-float32", "tc-pinned"]
    speeds = {"tc-default": {0: [800.0], 1: [480.0]}, "st-float32": {0: [300.0], 1: [150.0]},
              "tc-pinned": {0: [820.0], 1: [60.0]}}
    threads = {n: {0: {2}, 1: {1}} for n in names}
    train = {"bilstm": {0: [8.0], 1: [3.0]}}
    bench.report(names, [0, 1], speeds, threads, train, {"bilstm": {0: {2}, 1: {1}}}, {})
    out = capsys.readouterr().out
    assert "| textcl, default | 800/s | 480/s | **0.60** |" in out
    assert "PASS textcl default, 1 busy / quiet: 0.60x" in out
    assert "MISS textcl default / sentence-transformers, 1 busy: 3.20x" not in out
    assert "PASS textcl default / sentence-transformers, 1 busy: 3.20x" in out
    assert "PASS textcl default / pinned to the cores, quiet: 0.98x" in out
    assert "MISS bilstm training, 1 busy / quiet: 0.38x" in out


def test_figures_keep_every_run_and_the_thread_counts():
    bench = _bench()
    names = ["tc-default", "st-float32"]
    speeds = {"tc-default": {0: [800.0, 820.0, 790.0], 1: [480.0]}, "st-float32": {0: [300.0], 1: []}}
    threads = {"tc-default": {0: {2}, 1: {1}}, "st-float32": {0: {2}, 1: set()}}
    record = bench.figures(names, [0, 1], speeds, threads, {"bilstm": {0: [8.0], 1: [3.0]}},
                           {"bilstm": {0: {2}, 1: {1}}}, {"tc-onnx": "onnxruntime / onnx not installed"})
    default = record["encode_sentences_per_s"]["textcl, default"]
    assert default["quiet"] == {"median": 800.0, "runs": [800.0, 820.0, 790.0]}
    assert record["encode_sentences_per_s"]["sentence-transformers, float32"]["1 busy"]["median"] is None
    assert record["encode_threads"]["textcl, default"] == {"quiet": [2], "1 busy": [1]}
    assert record["training_steps_per_s"][bench.TRAINING["bilstm"]]["1 busy"]["runs"] == [3.0]
    assert record["skipped"] == {"textcl, onnx": "onnxruntime / onnx not installed"}
    assert record["conditions"] == ["quiet", "1 busy"] and "avx2" in record["cpu"]
    assert record["encode_over_quiet"]["textcl, default"] == {"1 busy": 0.6}
    assert record["encode_over_sentence_transformers"] == {"quiet": {"textcl, default": 800 / 300,
                                                                     "sentence-transformers, float32": 1.0}}
    assert [(t["what"], t["verdict"]) for t in record["targets"]] == [
        ("textcl default, 1 busy / quiet", "PASS"), ("textcl default / sentence-transformers, 1 busy", "n/a"),
        ("bilstm training, 1 busy / quiet", "MISS")]
