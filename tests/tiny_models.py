"""Tiny random models and toy sentences for the tests (no network)."""

from __future__ import annotations

import os


def _benchmarks_tiny_bert():
    """benchmarks/tiny_bert.py, the one builder of the tiny BERT (scripts never import tests, so tests import it)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "tiny_bert.py")
    spec = importlib.util.spec_from_file_location("textcl_benchmarks_tiny_bert", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TINY = _benchmarks_tiny_bert()
WORDS = _TINY.WORDS

SENTENCES = [
    "a man plays the guitar .", "a man is playing music .", "a woman plays the piano .",
    "a dog runs in the park .", "a cat sleeps on the car .", "two people eat food .",
    "a child rides a horse .", "the girl swims in the water .", "a boy is playing on the beach .",
    "someone is sleeping .", "a big red car .", "a small blue car .", "the dog eats .",
    "people are riding in the street .", "a woman is sleeping in the sun .", "three dogs play .",
]

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data")


def make_tiny_bert(path: str, seed: int = 0) -> str:
    """Write a random 2-layer, 32-wide BERT and a word-level WordPiece tokenizer to ``path``."""
    from transformers import BertTokenizerFast

    _TINY.make_tiny_bert(path, seed)
    tok = BertTokenizerFast.from_pretrained(path)
    assert tok.convert_tokens_to_ids("guitar") != tok.unk_token_id
    return path


