"""benchmarks/train.py: both tasks run end to end, batches hold no repeated text, threads and the verdict print."""

import importlib.util
import json
import os
import re

import pytest
import torch
from tiny_models import REPO_ROOT, WORDS


def _bench():
    path = os.path.join(REPO_ROOT, "benchmarks", "train.py")
    spec = importlib.util.spec_from_file_location("benchmark_train", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def keep_threads():
    """The benchmark sets torch's thread count for the whole process: put it back afterwards."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _line(pattern: str, out: str):
    """The match of ``pattern`` against one whole line of ``out`` (``^`` and ``$`` at line ends)."""
    return re.search(pattern, out, re.MULTILINE)


def _senteval_snli(folder: str, premises: int = 100) -> str:
    """A SentEval folder whose SNLI files give 2 triplets per premise (sharing premise and contradiction)."""
    snli = os.path.join(folder, "SNLI")
    os.makedirs(snli)
    rows = []
    for i in range(premises):
        p = f"{WORDS[i % 20]} {WORDS[(i // 20) + 20]} {WORDS[i % 7 + 30]} {i} ."
        rows += [(p, f"{p} yes one", "entailment"), (p, f"{p} yes two", "entailment"), (p, f"{p} no", "contradiction")]
    half = len(rows) // 2
    for split, part in (("dev", rows[:half]), ("test", rows[half:])):
        for name, col in (("s1", 0), ("s2", 1), ("labels", 2)):
            with open(os.path.join(snli, f"{name}.{split}"), "w", encoding="utf-8") as f:
                f.write("".join(r[col] + "\n" for r in part))
    return folder


def test_steady_time_leaves_out_the_warmup_and_the_verdict_meets_the_target():
    bench = _bench()
    stamps = [10.0, 16.0, 17.0, 18.5, 20.0]  # end of steps 1..5; step 2 is still slow (kernels)
    assert bench.steady_seconds_per_step(stamps, 1) == pytest.approx(10.0 / 4)  # steps 2..5
    assert bench.steady_seconds_per_step(stamps, 2) == pytest.approx(4.0 / 3)  # steps 3..5
    assert bench.steady_seconds_per_step(stamps, 3) == pytest.approx(3.0 / 2)  # steps 4..5
    assert [bench.verdict(r, 1.4) for r in (1.39, 1.4, 2.0)] == ["MISS", "PASS", "PASS"]
    assert bench.TASKS["triplets"].target == 1.4 and bench.TASKS["simcse"].target is None


def test_timed_steps_must_fit_in_one_epoch(tmp_path, capsys):
    """A run past the epoch's end would time textcl's short last batch (sentence-transformers drops it)."""
    bench = _bench()
    data = _senteval_snli(str(tmp_path / "senteval"))  # 200 triplets: 3 full batches of 64
    with pytest.raises(SystemExit):
        bench.main(["--task", "triplets", "--steps", "3", "--warmup", "1", "--model", "unused", "--data", data])
    assert "4 steps need 256 rows in one epoch; the data has 200" in capsys.readouterr().err


def test_triplet_batches_hold_no_repeated_text_on_either_side(tiny_bert_dir, tmp_path, monkeypatch, keep_threads):
    """Both sides draw batches of 64 rows with no text twice, where a plain shuffle repeats them."""
    from sentence_transformers.base.data_collator import BaseDataCollator

    from textcl import SentenceEncoder

    bench = _bench()
    data = bench.load_task_data("triplets", _senteval_snli(str(tmp_path / "senteval")))
    assert data.num_rows == 200
    g = torch.Generator().manual_seed(0)
    plain = [torch.randperm(200, generator=g)[:64].tolist() for _ in range(5)]
    assert all(len({data[i]["premise"] for i in b}) < 64 for b in plain)  # a plain batch repeats premises

    seen: dict[str, list[list[str]]] = {"textcl": [], "st": []}
    tokenize, collate = SentenceEncoder.tokenize, BaseDataCollator.__call__
    monkeypatch.setattr(SentenceEncoder, "tokenize",  # textcl tokenizes each batch's texts in one call
                        lambda self, texts: seen["textcl"].append(list(texts)) or tokenize(self, texts))
    monkeypatch.setattr(BaseDataCollator, "__call__",  # sentence-transformers collates each batch's rows
                        lambda self, rows: seen["st"].append([t for r in rows for t in r.values()]) or collate(
                            self, rows))
    torch.set_num_threads(1)
    tc = bench.run_textcl(tiny_bert_dir, data, 3, str(tmp_path / "tc"), "triplets", threads=1, max_length=32)
    st = bench.run_sentence_transformers(tiny_bert_dir, data, 3, str(tmp_path / "st"), "triplets", max_length=32)
    assert len(tc) == len(st) == 3 and tc.threads == st.threads == {1}
    for side in ("textcl", "st"):
        assert len(seen[side]) == 3 and all(len(b) == 192 == len(set(b)) for b in seen[side]), side


@pytest.mark.parametrize("task", ["triplets", "simcse"])
def test_a_short_run_prints_speeds_threads_ratio_and_verdict(task, tiny_bert_dir, tmp_path, capsys, keep_threads):
    bench = _bench()
    if task == "triplets":
        data = _senteval_snli(str(tmp_path / "senteval"))
    else:
        data = str(tmp_path / "sentences.txt")
        with open(data, "w") as f:
            f.write("".join(f"{WORDS[i % 30]} {WORDS[i // 30 + 5]} {WORDS[i % 11 + 20]} .\n" for i in range(200)))
    record = tmp_path / "bench.json"
    bench.main(["--task", task, "--rounds", "1", "--steps", "2", "--warmup", "1", "--threads", "1",
                "--model", tiny_bert_dir, "--max-length", "32", "--data", data, "--results", str(record)])
    out = capsys.readouterr().out
    kept = json.loads(record.read_text())
    assert kept["threads"] == {"sentence-transformers": [1], "textcl": [1]} and kept["task"] == task
    assert f"speed-up textcl vs sentence-transformers: median of rounds {kept['speedup_median_of_rounds']:.2f}x" in out
    texts = 3 if task == "triplets" else 2
    assert _line(r"tokenisation: identical on \d+ texts \(max length 32 on both sides", out)
    for side in ("sentence-transformers", "textcl"):
        assert _line(rf"^{side} +median [\d.]+ s/step = [\d.]+ sentences/s \(rows x texts\), threads used \[1\]$",
                         out)
    assert _line(r"^round 1: sentence-transformers [\d.]+ s/step, textcl [\d.]+ s/step, ratio [\d.]+x$", out)
    row = _line(r"^\| textcl \| ([\d,.]+) \| ([\d.]+)x \| threads \[1\]; median of per-round ratios: ([\d.]+) \|$",
                    out)
    assert row and row.group(2) == row.group(3)
    st_speed = float(_line(r"^\| sentence-transformers \| ([\d,.]+) \| 1.00x", out).group(1).replace(",", ""))
    st_step = float(_line(r"^sentence-transformers +median ([\d.]+) s/step", out).group(1))
    assert st_speed == pytest.approx(texts * 64 / st_step, rel=0.01, abs=0.1)
    verdict = _line(r"^(PASS|MISS) textcl / sentence-transformers, triplets training: ([\d.]+)x "
                        r"\(target >= 1.4x\)$", out)
    if task == "triplets":
        assert verdict and verdict.group(1) == ("PASS" if float(verdict.group(2)) >= 1.4 else "MISS")
    else:
        assert verdict is None and "target" not in out
