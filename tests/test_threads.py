"""The intra-op thread choice: the rule over a grid of load readings, pins, restoring torch's count,
re-decisions from the row counter, identical float32 outputs at any count, training's record, ``--threads``."""

import json
import math

import numpy as np
import pytest
import torch
from tiny_models import SENTENCES

import textcl.threads as threads_mod
from textcl.cli import build_parser, main
from textcl.model import SentenceEncoder
from textcl.threads import LoadReading, ThreadPlan, choose_threads, read_cpu_times, split_threads


def _reading(free: float, cores: int = 2) -> LoadReading:
    """A load reading with ``cores - free`` cores busy with other processes (this process idle)."""
    busy = cores - free
    per_cpu = tuple(min(1.0, max(0.0, busy - i)) for i in range(cores))
    return LoadReading(per_cpu, own=0.0, seconds=0.03)


class FakeReader:
    """Returns the reading set in ``free`` and counts the calls."""

    def __init__(self, free: float, cores: int = 2) -> None:
        self.free, self.cores, self.calls = free, cores, 0

    def __call__(self, window: float, wait: bool, max_age: float = 1.0) -> LoadReading:
        self.calls += 1
        return _reading(self.free, self.cores)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two_cores(monkeypatch):
    """torch at 2 threads on 2 usable cores, no environment pin; torch's count restored afterwards."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads_mod, "usable_cores", lambda: 2)
    for name in threads_mod.ENV_PINS:
        monkeypatch.delenv(name, raising=False)
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------- the rule
@pytest.mark.parametrize("available", range(1, 9))
def test_choice_over_a_grid_of_free_cores(available):
    grid = [i / 20 for i in range(20 * available + 1)]  # 0, 0.05, ..., available free cores
    counts = [choose_threads(free, available) for free in grid]
    assert all(1 <= c <= available for c in counts)
    assert counts == sorted(counts)  # more free cores never mean fewer threads
    for free, count in zip(grid, counts):
        assert count == max(1, min(available, math.floor(free + threads_mod.SLACK + 1e-9)))
    assert choose_threads(available, available) == available  # a quiet machine: every core
    assert choose_threads(available - 0.25, available) == available  # light background noise changes nothing
    assert choose_threads(0.0, available) == 1  # every core busy: one thread, never zero
    if available > 1:
        assert choose_threads(available - 1.0, available) == available - 1  # one busy process: one thread fewer


@pytest.mark.parametrize(("per_cpu", "own", "expected"), [
    ((0.0, 0.0), 0.0, 2),    # quiet
    ((1.0, 0.0), 0.0, 1),    # one busy process
    ((1.0, 1.0), 0.0, 1),    # two busy processes
    ((1.0, 1.0), 2.0, 2),    # busy with this process's own threads: free
    ((1.0, 0.5), 0.5, 1),    # one busy process beside half a core of our own
    ((0.1, 0.15), 0.0, 2),   # background noise
])
def test_choice_from_a_load_reading(per_cpu, own, expected):
    reading = LoadReading(per_cpu, own=own, seconds=0.03)
    assert choose_threads(reading.free_cores, 2) == expected


def test_choice_without_a_reading_or_with_bad_input():
    assert choose_threads(float("nan"), 4) == 4
    with pytest.raises(ValueError, match="available"):
        choose_threads(1.0, 0)


def test_cpu_times_are_read_from_proc_stat_format(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  10 0 10 100 0 0 0 0 0 0\n"
                    "cpu0 300 0 100 500 100 0 0 0 0 0\n"
                    "cpu1 0 0 0 1000 0 0 0 0 0 0\n"
                    "cpu2 50 0 50 900 0 0 0 0 0 0\n"
                    "intr 1 2 3\n")
    monkeypatch.setattr(threads_mod.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    times = read_cpu_times(str(stat))
    assert set(times) == {0, 1}  # cpu2 is outside the affinity mask
    assert times[0] == pytest.approx((4.0, 10.0))  # user + system busy, idle + iowait not; USER_HZ=100
    assert times[1] == pytest.approx((0.0, 10.0))


def test_a_load_reading_subtracts_this_processs_own_time(monkeypatch):
    samples = iter([(0.0, {0: (0.0, 0.0), 1: (0.0, 0.0)}, 0.0), (1.0, {0: (1.0, 1.0), 1: (0.6, 1.0)}, 0.5)])
    monkeypatch.setattr(threads_mod, "_sample", lambda: next(samples))
    monkeypatch.setattr(threads_mod, "_last_sample", None)
    monkeypatch.setattr(threads_mod.time, "sleep", lambda s: None)
    reading = threads_mod.measure_load(0.03)
    assert reading.cpu_busy == (1.0, 0.6) and reading.own == pytest.approx(0.5)
    assert reading.others == pytest.approx(1.1) and reading.free_cores == pytest.approx(0.9)


# ---------------------------------------------------------------- plans
@pytest.mark.parametrize(("free", "expected"), [(2.0, 2), (1.8, 2), (1.6, 1), (1.0, 1), (0.5, 1), (0.0, 1)])
def test_a_plan_applies_the_choice_and_restores_torch(two_cores, free, expected):
    reader = FakeReader(free)
    with ThreadPlan(reader=reader) as plan:
        assert (plan.count, plan.reason) == (expected, "load")
        assert torch.get_num_threads() == expected
    assert torch.get_num_threads() == 2
    assert reader.calls == 1


def test_a_plan_never_exceeds_the_users_torch_count(two_cores):
    torch.set_num_threads(1)  # the user's own setting is the ceiling
    with ThreadPlan(reader=FakeReader(2.0)) as plan:
        assert plan.count == 1
    assert torch.get_num_threads() == 1


def test_a_pinned_count_is_used_as_is(two_cores):
    def no_reading(*args):
        raise AssertionError("a pinned plan must not measure the load")

    with ThreadPlan(1, reader=no_reading) as plan:
        assert (plan.count, plan.reason, torch.get_num_threads()) == (1, "pinned", 1)
        for _ in range(10):
            plan.advance(1000)
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads"):
        ThreadPlan(0)


def test_a_small_job_keeps_torchs_count_without_measuring(two_cores):
    reader = FakeReader(0.0)
    with ThreadPlan(rows=threads_mod.SMALL_JOB_ROWS, reader=reader) as plan:
        assert (plan.count, plan.reason) == (2, "small job")
    with ThreadPlan(rows=threads_mod.SMALL_JOB_ROWS + 1, reader=reader) as plan:
        assert (plan.count, plan.reason) == (1, "load")
    assert reader.calls == 1


def test_the_environment_pins_torchs_count(two_cores, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    reader = FakeReader(0.0)
    with ThreadPlan(reader=reader) as plan:
        assert (plan.count, plan.reason) == (2, "environment")
    assert reader.calls == 0


def test_an_inner_plan_keeps_the_outer_count_and_feeds_its_counter(two_cores):
    outer_reader, inner_reader = FakeReader(1.0), FakeReader(2.0)
    seen = []
    with ThreadPlan(reader=outer_reader, on_rows=seen.append) as outer:
        with ThreadPlan(rows=100, reader=inner_reader) as inner:
            assert (inner.count, inner.reason) == (1, "outer plan")
            inner.advance(40)
            inner.advance(60)
        assert torch.get_num_threads() == 1
    assert (outer.rows, seen, inner_reader.calls) == (100, [40, 60], 0)
    assert torch.get_num_threads() == 2


def test_throughput_drop_re_decides_from_the_row_counter(two_cores):
    reader, clock = FakeReader(2.0), FakeClock()
    with ThreadPlan(reader=reader, clock=clock) as plan:
        assert plan.count == 2
        for _ in range(int(threads_mod.RECHECK_S / threads_mod.CHECK_S) - 1):  # steady 100 rows/s
            clock.now += threads_mod.CHECK_S
            plan.advance(int(100 * threads_mod.CHECK_S))
        assert reader.calls == 2  # the start, and once over the first CHECK_S seconds only
        reader.free = 1.0  # another process starts; rows per second fall
        clock.now += threads_mod.CHECK_S
        plan.advance(int(20 * threads_mod.CHECK_S))
        assert (plan.count, torch.get_num_threads(), reader.calls) == (1, 1, 3)
        assert plan.changes == [(plan.rows, 1)]
        reader.free = 2.0  # it stops: the load is re-read every RECHECK_S
        for _ in range(int(threads_mod.RECHECK_S / threads_mod.CHECK_S) + 1):
            clock.now += threads_mod.CHECK_S
            plan.advance(int(60 * threads_mod.CHECK_S))
        assert (plan.count, torch.get_num_threads()) == (2, 2)
    assert torch.get_num_threads() == 2


def test_a_load_that_holds_the_rate_steady_is_still_found(two_cores):
    """A load that starts after the first reading and leaves the rate steady (no drop): the periodic
    re-reading finds it."""
    reader, clock = FakeReader(2.0), FakeClock()
    with ThreadPlan(reader=reader, clock=clock) as plan:
        clock.now += threads_mod.CHECK_S
        plan.advance(100)
        reader.free = 1.0
        steps = int(threads_mod.RECHECK_S / threads_mod.CHECK_S)
        for i in range(1, steps + 1):  # RECHECK_S after the first re-reading
            clock.now += threads_mod.CHECK_S
            plan.advance(100)
            assert plan.count == (2 if i < steps else 1)


@pytest.mark.parametrize("start_free", [0.6, 1.0, 1.67, 2.0])
@pytest.mark.parametrize("true_free", [1.0, 2.0])
def test_the_first_seconds_correct_a_misread_start(two_cores, start_free, true_free):
    """Whatever the start's short reading said, after the first CHECK_S seconds of rows the count is the one
    the load over those seconds gives, and the rate staying steady changes nothing after that."""
    reader, clock = FakeReader(start_free), FakeClock()
    with ThreadPlan(reader=reader, clock=clock) as plan:
        assert plan.count == choose_threads(start_free, 2)
        reader.free = true_free
        for _ in range(int(threads_mod.RECHECK_S / threads_mod.CHECK_S) - 1):
            clock.now += threads_mod.CHECK_S
            plan.advance(100)
            assert plan.count == choose_threads(true_free, 2)


def test_one_stray_tick_cannot_take_a_thread_away():
    """/proc/stat counts busy time in whole ticks: one tick of another process in a fresh window is less
    than the slack, so a quiet machine reads as all cores free."""
    for cores in range(1, 9):
        assert choose_threads(cores - threads_mod.TICK_S / threads_mod.WINDOW_S, cores) == cores
        assert choose_threads(cores - threads_mod.TICK_S / threads_mod.FIXED_WINDOW_S, cores) == cores


def test_a_fixed_plan_never_changes_mid_run(two_cores):
    reader, clock = FakeReader(2.0), FakeClock()
    with ThreadPlan(reader=reader, clock=clock, adapt=False) as plan:
        reader.free = 0.0
        for rate in (100, 10, 1):
            clock.now += threads_mod.CHECK_S * 2
            plan.advance(rate)
        assert (plan.count, plan.changes, reader.calls) == (2, [], 1)


def test_split_threads_among_workers(two_cores):
    assert split_threads(2, reader=FakeReader(2.0)) == 1
    assert split_threads(1, reader=FakeReader(2.0)) == 2
    assert split_threads(1, reader=FakeReader(1.0)) == 1
    assert split_threads(4, 3) == 3  # pinned per worker


# ---------------------------------------------------------------- encode
@pytest.fixture(scope="module")
def tiny(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")


def _threads_seen(cls, monkeypatch) -> list[int]:
    """torch's thread count at every forward pass of a ``cls`` model."""
    seen: list[int] = []
    forward = cls.forward

    def spy(self, features):
        seen.append(torch.get_num_threads())
        return forward(self, features)

    monkeypatch.setattr(cls, "forward", spy)
    return seen


def test_encode_threads_pin_and_restore(tiny, two_cores, monkeypatch):
    seen = _threads_seen(SentenceEncoder, monkeypatch)
    tiny.encode(SENTENCES, batch_size=4, dtype="float32", threads=1)
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == 2


def test_encode_chooses_from_the_load_and_restores(tiny, two_cores, monkeypatch):
    monkeypatch.setattr(threads_mod, "measure_load", FakeReader(1.0))  # one busy process
    seen = _threads_seen(SentenceEncoder, monkeypatch)
    tiny.encode(SENTENCES * 20, batch_size=4, dtype="float32")
    assert set(seen) == {1}
    assert torch.get_num_threads() == 2


def test_encode_outputs_are_the_same_at_any_thread_count(tiny, two_cores):
    texts = SENTENCES * 4
    one = tiny.encode(texts, batch_size=8, dtype="float32", threads=1)
    two = tiny.encode(texts, batch_size=8, dtype="float32", threads=2)
    np.testing.assert_allclose(one, two, atol=1e-6, rtol=0)


# ---------------------------------------------------------------- training
def _train(tiny_bert_dir, tmp_path, threads=None, **kw):
    from textcl.data import load_data
    from textcl.losses import InfoNCE
    from textcl.train.config import TrainConfig
    from textcl.train.trainer import Trainer
    from textcl.views import PairView

    rows = [(SENTENCES[i % 16], SENTENCES[(i + 3) % 16]) for i in range(16)]
    model = SentenceEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu")
    seen: list[int] = []
    config = TrainConfig(batch_size=4, max_steps=4, save_steps=2, log_steps=1, lr=1e-3, threads=threads,
                         output_dir=str(tmp_path / "run"))
    callbacks = [lambda record: seen.append(torch.get_num_threads())] + kw.pop("callbacks", [])
    trainer = Trainer(model, InfoNCE(), PairView(), load_data(rows), config, callbacks=callbacks)
    return trainer, seen


def _recorded(tmp_path) -> int:
    with open(tmp_path / "run" / "train_config.json") as f:
        return json.load(f)["train"]["threads"]


def test_training_records_its_pinned_threads(tiny_bert_dir, tmp_path, two_cores):
    trainer, seen = _train(tiny_bert_dir, tmp_path, threads=1)
    trainer.train()
    assert set(seen) == {1} and _recorded(tmp_path) == 1
    assert torch.get_num_threads() == 2


def test_training_records_the_chosen_count_and_resume_keeps_it(tiny_bert_dir, tmp_path, two_cores, monkeypatch):
    monkeypatch.setattr(threads_mod, "measure_load", FakeReader(1.0))  # busy at the start: 1 thread

    def crash_at_step_3(record):
        if record.get("step") == 3:
            raise KeyboardInterrupt

    trainer, seen = _train(tiny_bert_dir, tmp_path, callbacks=[crash_at_step_3])
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    assert set(seen) == {1} and _recorded(tmp_path) == 1
    assert torch.get_num_threads() == 2  # restored even after a crash
    monkeypatch.setattr(threads_mod, "measure_load", FakeReader(2.0))  # quiet now: the record still decides
    trainer, seen = _train(tiny_bert_dir, tmp_path)
    result = trainer.train(resume_from=str(tmp_path / "run" / "checkpoint"))
    assert result.steps == 4 and set(seen) == {1} and _recorded(tmp_path) == 1


# ---------------------------------------------------------------- command line
def test_every_command_takes_threads():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert any("--threads" in a.option_strings for a in command._actions), name


def test_cli_threads_pin_the_whole_command(two_cores, monkeypatch):
    from textcl.commands import quickstart

    seen = []
    monkeypatch.setattr(quickstart, "run", lambda args: seen.append((args.threads, torch.get_num_threads())) or 0)
    assert main(["quickstart", "--threads", "1"]) == 0
    assert seen == [(1, 1)] and torch.get_num_threads() == 2
    assert main(["quickstart"]) == 0
    assert seen[-1] == (None, 2)


def test_threads_must_be_a_positive_whole_number(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["quickstart", "--threads", "0"])
    assert "--threads must be a whole number >= 1" in capsys.readouterr().err


def test_cli_threads_reach_encode(tiny_bert_dir, tmp_path, two_cores, monkeypatch):
    seen = _threads_seen(SentenceEncoder, monkeypatch)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES) + "\n")
    for threads in ("1", "2"):
        seen.clear()
        out = tmp_path / f"emb{threads}.npy"
        assert main(["encode", "--model", tiny_bert_dir, "--input", str(corpus), "--output", str(out),
                     "--device", "cpu", "--dtype", "float32", "--threads", threads, "--quiet"]) == 0
        assert seen and set(seen) == {int(threads)}
        assert torch.get_num_threads() == 2
    np.testing.assert_allclose(np.load(tmp_path / "emb1.npy"), np.load(tmp_path / "emb2.npy"), atol=1e-6)


def test_onnx_runtime_follows_the_plans_count(tiny, two_cores):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from textcl.backends import cached_backend

    backend = cached_backend(tiny, "onnx")
    for count in (1, 2):
        tiny.encode(SENTENCES, backend="onnx", threads=count)
        session = backend._sessions[count]
        assert session.get_session_options().intra_op_num_threads == count
    assert backend.session is backend._sessions[2]  # outside any plan: torch's count (2)
