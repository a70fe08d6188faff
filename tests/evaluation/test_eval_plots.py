"""PNG figures, and no heavy imports or backend changes when the package is imported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from textcl.evaluation.plots import plot_alignment_uniformity, plot_sts_scatter, save_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_sts_scatter_and_alignment_uniformity_pngs(tmp_path):
    gold = np.linspace(0, 5, 50)
    path = plot_sts_scatter(gold / 5, gold, tmp_path / "a" / "sts.png", "STS-B", spearman=100.0)
    assert path.read_bytes()[:8] == PNG_MAGIC
    path = plot_alignment_uniformity({"ours": (0.2, -3.5), "baseline": (0.1, -1.0)}, tmp_path / "au.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_save_plots_names_files_by_task(tmp_path):
    preds = {"stsb": (np.arange(5.0), np.arange(5.0)), "sickr": (np.arange(5.0), np.arange(5.0)[::-1])}
    paths = save_plots(preds, {"alignment": 0.3, "uniformity": -3.8}, tmp_path, titles={"stsb": "STS-B"})
    assert sorted(p.name for p in paths) == ["alignment_uniformity.png", "sts_sickr.png", "sts_stsb.png"]
    assert save_plots({}, None, tmp_path / "none") == []


def test_import_has_no_side_effects():
    # matplotlib never imported -> no backend chosen; datasets/torch load only when used
    code = ("import sys, textcl.evaluation; "
            "heavy = [m for m in ('matplotlib', 'datasets', 'torch') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
