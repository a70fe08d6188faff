"""``textcl eval --user-data FILE --kind sts|retrieval|triplet`` on a tiny model: scores, JSON, one-line errors."""

from __future__ import annotations

import csv
import json

import pytest
from tiny_models import SENTENCES

from textcl.cli import main
from textcl.evaluation.evaluators import STSEvaluator, TripletEvaluator
from textcl.evaluation.retrieval import RetrievalEvaluator
from textcl.model import SentenceEncoder


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


@pytest.fixture(scope="module")
def tiny_model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")


def run_eval(tiny_bert_dir, tmp_path, capsys, *extra):
    out = tmp_path / "result.json"
    code = main(["eval", "--model", tiny_bert_dir, "--device", "cpu", "--batch-size", "4", "--output", str(out),
                 *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(out.read_text()), captured.out


def test_sts_file_scores_as_the_evaluator(tiny_bert_dir, tiny_model, tmp_path, capsys):
    rows = [(SENTENCES[i], SENTENCES[(i * 3 + 1) % 16], float(i % 6)) for i in range(12)]
    path = write_csv(tmp_path / "sts.csv", ["sentence1", "sentence2", "score"], rows)
    result, printed = run_eval(tiny_bert_dir, tmp_path, capsys, "--user-data", path, "--kind", "sts")
    expected = STSEvaluator(*map(list, zip(*rows)))(tiny_model)
    assert result["primary_metric"] == "spearman" and result["kind"] == "sts"
    assert result["metrics"] == pytest.approx(expected, abs=1e-6)
    assert "| spearman (primary) |" in printed


def test_triplet_jsonl_scores_as_the_evaluator(tiny_bert_dir, tiny_model, tmp_path, capsys):
    rows = [{"anchor": SENTENCES[i], "positive": SENTENCES[i + 1], "negative": SENTENCES[15 - i]} for i in range(8)]
    path = tmp_path / "triplets.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result, _ = run_eval(tiny_bert_dir, tmp_path, capsys, "--user-data", str(path), "--kind", "triplet")
    expected = TripletEvaluator([r["anchor"] for r in rows], [r["positive"] for r in rows],
                                [r["negative"] for r in rows])(tiny_model)
    assert result["metrics"] == pytest.approx(expected)


def test_retrieval_pairs_score_as_the_evaluator(tiny_bert_dir, tiny_model, tmp_path, capsys):
    rows = [(SENTENCES[i], SENTENCES[i + 8]) for i in range(6)] + [(SENTENCES[0], SENTENCES[15]), ("", SENTENCES[7])]
    path = write_csv(tmp_path / "ret.csv", ["query", "document"], rows)
    result, _ = run_eval(tiny_bert_dir, tmp_path, capsys, "--user-data", path, "--kind", "retrieval")
    queries = {i: SENTENCES[i] for i in range(6)}
    corpus = {i: SENTENCES[i + 8] for i in range(6)} | {6: SENTENCES[15], 7: SENTENCES[7]}
    relevant = {i: {i} for i in range(6)} | {0: {0, 6}}
    expected = RetrievalEvaluator(queries, corpus, relevant)(tiny_model)
    assert result["primary_metric"] == "ndcg@10" and result["metrics"] == pytest.approx(expected)
    assert {"mrr@10", "map@100", "recall@10", "precision@1", "accuracy@5"} <= set(result["metrics"])


@pytest.mark.parametrize("header, kind, match", [
    (["sentence1", "sentence2"], "sts", "lacks column(s) score for --kind sts (it needs sentence1, sentence2, score)"),
    (["sentence1", "sentence2", "score"], "nli", "needs --kind sts | triplet | retrieval, got 'nli'"),
    (["sentence1", "sentence2", "score"], None, "needs --kind"),
    (["query", "doc"], "retrieval", "lacks column(s) document"),
])
def test_wrong_kind_or_columns_is_one_line(tiny_bert_dir, tmp_path, capsys, header, kind, match):
    path = write_csv(tmp_path / "t.csv", header, [tuple(f"v{i}" if h != "score" else 1.0 for i, h in
                                                        enumerate(header))] * 2)
    args = ["eval", "--model", tiny_bert_dir, "--user-data", path] + (["--kind", kind] if kind else [])
    assert main(args) == 1
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1 and err.startswith("textcl eval: error:")


def test_user_data_flags_are_not_mixed_with_senteval(tiny_bert_dir, tmp_path, capsys):
    path = write_csv(tmp_path / "t.csv", ["sentence1", "sentence2", "score"], [("a", "b", 1.0), ("c", "d", 2.0)])
    assert main(["eval", "--model", tiny_bert_dir, "--user-data", path, "--kind", "sts", "--tasks", "stsb"]) == 1
    assert "--tasks apply to SentEval's tasks" in capsys.readouterr().err
    assert main(["eval", "--model", tiny_bert_dir, "--kind", "sts"]) == 1
    assert "pass --user-data FILE too" in capsys.readouterr().err
    assert main(["eval", "--model", tiny_bert_dir, "--user-data", path, "--kind", "sts", "--output", path]) == 1
    assert "--user-data" in capsys.readouterr().err  # the output would overwrite the input
