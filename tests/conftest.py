"""Shared fixtures: tiny random models built on the fly (no network)."""

from __future__ import annotations

import os

import pytest

from tiny_models import SENTENCES, SHARED_DATA, make_tiny_bert


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> str:
    """A folder holding a tiny random BERT (hidden 32, 2 layers) and its tokenizer."""
    return make_tiny_bert(str(tmp_path_factory.mktemp("tiny_bert")))


@pytest.fixture
def sentences() -> list[str]:
    return list(SENTENCES)


@pytest.fixture
def shared_data() -> str:
    """``../shared/data``; skips the test when the benchmark data is absent (a user's fresh clone)."""
    if not os.path.isdir(os.path.join(SHARED_DATA, "senteval")):
        pytest.skip(f"benchmark data not found at {SHARED_DATA} (only present on the team's machines)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tiny models on one thread: much faster than two on a busy 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
