"""Tiny random models and toy sentences for the tests (no network)."""

from __future__ import annotations

import os

import torch

WORDS = ("a man woman child dog cat plays playing guitar piano music is are the on in of and sits "
         "runs eats food street park car red blue big small sleeping sleeps someone people two "
         "three girl boy horse rides riding water swims beach sun . , !").split()

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
    from transformers import BertConfig, BertModel, BertTokenizerFast

    os.makedirs(path, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    with open(os.path.join(path, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    # transformers 5 ignores vocab_file= here (every word would become [UNK]); vocab= reads the file
    tok = BertTokenizerFast(vocab=os.path.join(path, "vocab.txt"), do_lower_case=True)
    assert tok.convert_tokens_to_ids("guitar") != tok.unk_token_id
    tok.save_pretrained(path)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(path)
    return path


