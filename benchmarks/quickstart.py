"""The whole ``textcl quickstart``, two builds side by side: a baseline commit and the working tree.

The baseline is checked out with ``git worktree add`` into a temporary folder; each run is a fresh
process (``python -m textcl.cli quickstart``) with that build first on ``PYTHONPATH``, writing to a
fresh output folder, the same settings and ``--threads`` for both. Rounds alternate which build goes
first. Printed: each run's wall and CPU seconds (user + sys of the child), the ratio table of the median
wall seconds (ratio: median of the per-round ratios), and both builds' scores side by side.

    python benchmarks/quickstart.py --baseline aaa1aa3 --rounds 2 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ratio_table import ratio_table

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCORES = (("stsb_dev", "STS-B dev"), ("stsb_test", "STS-B test"), ("cr_accuracy", "CR"))


def order(builds: list[str], round_index: int) -> list[str]:
    """The builds in the order they run in round ``round_index`` (every other round reversed)."""
    return builds if round_index % 2 == 0 else builds[::-1]


def quickstart_command(output: str, args: argparse.Namespace) -> list[str]:
    """The CLI call of one run: the benchmark's settings, passed on unchanged to both builds."""
    cmd = [sys.executable, "-m", "textcl.cli", "quickstart", "--output", output, "--threads", str(args.threads)]
    for flag in ("epochs", "max_rows", "eval_steps"):
        if getattr(args, flag) is not None:
            cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    return cmd


def run_once(tree: str, output: str, args: argparse.Namespace) -> dict:
    """One fresh quickstart process of the build in ``tree``: wall and CPU seconds, and its results.json."""
    env = {**os.environ, "PYTHONPATH": tree + os.pathsep + os.environ.get("PYTHONPATH", "")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(quickstart_command(output, args), check=False, cwd=tree, env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"quickstart of {tree} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    with open(os.path.join(output, "results.json"), encoding="utf-8") as f:
        results = json.load(f)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "rows": results["rows"]}


def score_table(runs: dict[str, dict]) -> str:
    """Each model's scores, one column per build (x100, two decimals as the quickstart prints them)."""
    names = list(runs)
    lines = ["| model | score | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
    for i, row in enumerate(runs[names[0]]["rows"]):
        for key, label in SCORES:
            cells = [f"{runs[n]['rows'][i][key]:.2f}" for n in names]
            lines.append(f"| {row['model']} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD", help="commit of the baseline build (default: HEAD)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each build, alternating (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="--threads of every run (default 1)")
    parser.add_argument("--epochs", type=int, default=None, help="--epochs of every run (default: the CLI's)")
    parser.add_argument("--max-rows", type=int, default=None, help="--max-rows of every run (a smoke run)")
    parser.add_argument("--eval-steps", type=int, default=None, help="--eval-steps of every run")
    parser.add_argument("--results", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")
    with tempfile.TemporaryDirectory(prefix="textcl-quickstart-bench-") as tmp:
        base_tree = os.path.join(tmp, "baseline")
        subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", base_tree, args.baseline], check=True,
                       capture_output=True)
        try:
            trees = {f"baseline {args.baseline}": base_tree, "working tree": REPO}
            results: dict[str, list[dict]] = {name: [] for name in trees}
            for r in range(args.rounds):
                for name in order(list(trees), r):
                    run = run_once(trees[name], os.path.join(tmp, f"out_{r}_{len(results[name])}_{name[:4]}"), args)
                    results[name].append(run)
                    print(f"round {r + 1}: {name}: {run['wall']:.1f} s wall, {run['cpu']:.1f} s CPU", flush=True)
        finally:
            subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", base_tree], check=False,
                           capture_output=True)
    base = next(iter(trees))
    walls = {name: statistics.median(r["wall"] for r in runs) for name, runs in results.items()}
    ratios = {name: statistics.median(r["wall"] / b["wall"] for r, b in zip(runs, results[base]))
              for name, runs in results.items()}
    notes = {name: f"CPU {statistics.median(r['cpu'] for r in runs):.1f} s" for name, runs in results.items()}
    print(f"\nthe whole textcl quickstart, --threads {args.threads}, {args.rounds} round(s)\n")
    print(ratio_table(walls, base, "median wall s", ratios=ratios, notes=notes))
    print("\n" + score_table({name: runs[-1] for name, runs in results.items()}))
    if args.results:
        sys.path.insert(0, REPO)
        from textcl.storage.atomic import atomic_write_json

        atomic_write_json(args.results, {
            "command": "python benchmarks/quickstart.py " + " ".join(sys.argv[1:]),
            "builds": {name: {"median_wall_s": walls[name], "wall_over_baseline": ratios[name],
                              "wall_s": [r["wall"] for r in runs], "cpu_s": [r["cpu"] for r in runs],
                              "scores": [{"model": row["model"], **{key: row[key] for key, _ in SCORES}}
                                         for row in runs[-1]["rows"]]}
                       for name, runs in results.items()}})
        print(f"\nwrote {args.results}")


if __name__ == "__main__":
    main()
