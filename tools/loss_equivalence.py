"""textcl's losses against sentence-transformers' losses of the same name: value and gradient on random inputs.

Both sides see the same float64 embeddings: textcl's loss takes them directly; sentence-transformers'
loss calls ``model(features)["sentence_embedding"]``, so a stub model hands it the same tensors, one
per input column. GISTEmbed's guide returns fixed random embeddings on both sides. Each loss runs on
a grid of seeds, batch sizes and dimensions; the table gives the largest absolute difference of the
loss value and of its gradient with respect to every embedding.

    python tools/loss_equivalence.py
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from textcl.losses import (
    AnglELoss,
    CoSENTLoss,
    CosineSimilarityLoss,
    GISTEmbedLoss,
    InfoNCE,
    MatryoshkaLoss,
    MSELoss,
    OnlineContrastiveLoss,
)

GRID = list(itertools.product([0, 1, 2], [2, 5, 16], [7, 32]))  # (seed, batch size, dim)


class StubModel(nn.Module):
    """Stands in for a SentenceTransformer: ``{"column": c}`` -> column ``c``'s given embeddings."""

    def __init__(self, columns: list[torch.Tensor], tokenizer: Any = None) -> None:
        super().__init__()
        self.columns, self.tokenizer, self.max_seq_length = columns, tokenizer, 128
        self.device = torch.device("cpu")

    def forward(self, features: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"sentence_embedding": self.columns[features["column"]]}

    def get_embedding_dimension(self) -> int:
        return self.columns[0].shape[-1]

    _get_untruncated_embedding_dimension = get_embedding_dimension


class TextGuide:
    """A guide for textcl's GISTEmbedLoss: text ``"c{column}_{row}"`` -> that row of the column's fixed embeddings."""

    def __init__(self, columns: list[torch.Tensor]) -> None:
        self.columns = columns

    def encode(self, texts: list[str], convert_to_tensor: bool = False) -> torch.Tensor:
        rows = [self.columns[int(t[1:].split("_")[0])][int(t.split("_")[1])] for t in texts]
        return torch.stack(rows)


def _tokenizer() -> Any:
    """A tiny in-memory tokenizer (sentence-transformers' GISTEmbedLoss checks both models have one)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]")))


def _st() -> Any:
    from sentence_transformers.sentence_transformer import losses

    return losses


def _inputs(seed: int, n: int, d: int, columns: int) -> tuple[list[torch.Tensor], torch.Generator]:
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n, d, generator=g, dtype=torch.float64)
    # related columns: similarities spread over the range, as in training
    return [base + s * torch.randn(n, d, generator=g, dtype=torch.float64) for s in [0.0, 0.8, 1.5][:columns]], g


def _run(ours: Callable[..., torch.Tensor], st_factory: Callable[[nn.Module], nn.Module], columns: list[torch.Tensor],
         labels: Any, tokenizer: Any = None, **kwargs: Any) -> tuple[float, float]:
    """``(max |value diff|, max |gradient diff|)`` of textcl's loss and sentence-transformers' on ``columns``."""
    mine = [c.clone().requires_grad_() for c in columns]
    args = [*mine] + ([labels] if labels is not None else [])
    value = ours(*args, **kwargs)
    grads = torch.autograd.grad(value, mine)
    theirs = [c.clone().requires_grad_() for c in columns]
    st_loss = st_factory(StubModel(theirs, tokenizer))
    st_value = st_loss([{"column": i} for i in range(len(columns))], labels)
    st_grads = torch.autograd.grad(st_value, theirs)
    grad_diff = max(float((a - b).abs().max()) for a, b in zip(grads, st_grads))
    return abs(value.item() - st_value.item()), grad_diff


def _scores(g: torch.Generator, n: int, seed: int) -> torch.Tensor:
    scores = torch.rand(n, generator=g, dtype=torch.float64)
    return scores.mul(5).round() / 5 if seed == 1 else scores  # seed 1: tied scores


def case_cosent(seed: int, n: int, d: int) -> tuple[float, float]:
    cols, g = _inputs(seed, n, d, 2)
    return _run(CoSENTLoss(scale=20.0), lambda m: _st().CoSENTLoss(m, scale=20.0), cols, _scores(g, n, seed))


def case_angle(seed: int, n: int, d: int) -> tuple[float, float]:
    cols, g = _inputs(seed, n, d, 2)
    return _run(AnglELoss(scale=20.0), lambda m: _st().AnglELoss(m, scale=20.0), cols, _scores(g, n, seed))


def case_cosine_similarity(seed: int, n: int, d: int) -> tuple[float, float]:
    cols, g = _inputs(seed, n, d, 2)
    return _run(CosineSimilarityLoss(), lambda m: _st().CosineSimilarityLoss(m), cols, _scores(g, n, seed))


def case_online_contrastive(seed: int, n: int, d: int) -> tuple[float, float]:
    cols, g = _inputs(seed, n, d, 2)
    labels = torch.randint(0, 2, (n,), generator=g)
    return _run(OnlineContrastiveLoss(margin=0.5), lambda m: _st().OnlineContrastiveLoss(m, margin=0.5), cols, labels)


def case_mse(seed: int, n: int, d: int) -> tuple[float, float]:
    cols, g = _inputs(seed, n, d, 1)
    teacher = torch.randn(n, d, generator=g, dtype=torch.float64)
    return _run(MSELoss(), lambda m: _st().MSELoss(m), cols, teacher)


def _dims(d: int) -> list[int]:
    return [d, max(1, d // 2), max(1, d // 4)]


def case_matryoshka_cosent(seed: int, n: int, d: int) -> tuple[float, float]:
    cols, g = _inputs(seed, n, d, 2)
    weights = [1.0, 0.5, 0.25]
    return _run(MatryoshkaLoss(CoSENTLoss(), _dims(d), weights),
                lambda m: _st().MatryoshkaLoss(m, _st().CoSENTLoss(m), _dims(d), weights), cols, _scores(g, n, seed))


def case_matryoshka_infonce(seed: int, n: int, d: int) -> tuple[float, float]:
    cols, _ = _inputs(seed, n, d, 3)  # anchor, positive, hard negative
    return _run(MatryoshkaLoss(InfoNCE(temperature=0.05), _dims(d)),
                lambda m: _st().MatryoshkaLoss(m, _st().MultipleNegativesRankingLoss(m, scale=20.0), _dims(d)),
                cols, None)


def case_matryoshka_mse(seed: int, n: int, d: int) -> tuple[float, float]:
    cols, g = _inputs(seed, n, d, 1)
    teacher = torch.randn(n, d, generator=g, dtype=torch.float64)
    return _run(MatryoshkaLoss(MSELoss(), _dims(d)), lambda m: _st().MatryoshkaLoss(m, _st().MSELoss(m), _dims(d)),
                cols, teacher)


def _gist(seed: int, n: int, d: int, views: int, strategy: str, margin: float) -> tuple[float, float]:
    cols, g = _inputs(seed, n, d, views)
    guide_cols = [c[:, : max(2, d - 3)] + 0.5 * torch.randn(n, max(2, d - 3), generator=g, dtype=torch.float64)
                  for c in cols]  # the guide: related to the texts, in its own dimension
    texts = [[f"c{c}_{i}" for i in range(n)] for c in range(views)]
    tok = _tokenizer()
    ours = GISTEmbedLoss(TextGuide(guide_cols), temperature=0.05, margin_strategy=strategy, margin=margin)
    return _run(ours, lambda m: _st().GISTEmbedLoss(m, StubModel(guide_cols, tok), temperature=0.05,
                                                    margin_strategy=strategy, margin=margin),
                cols, None, tokenizer=tok, texts=texts)


def case_gist_embed(seed: int, n: int, d: int) -> tuple[float, float]:
    return _gist(seed, n, d, 2, "absolute", 0.0)


def case_gist_embed_triplets_relative(seed: int, n: int, d: int) -> tuple[float, float]:
    return _gist(seed, n, d, 3, "relative", 0.1)


def case_gist_embed_absolute_margin(seed: int, n: int, d: int) -> tuple[float, float]:
    return _gist(seed, n, d, 3, "absolute", 0.05)


CASES: dict[str, Callable[[int, int, int], tuple[float, float]]] = {
    "CoSENTLoss": case_cosent,
    "AnglELoss": case_angle,
    "CosineSimilarityLoss": case_cosine_similarity,
    "OnlineContrastiveLoss": case_online_contrastive,
    "MSELoss": case_mse,
    "MatryoshkaLoss(CoSENTLoss)": case_matryoshka_cosent,
    "MatryoshkaLoss(InfoNCE / MultipleNegativesRankingLoss)": case_matryoshka_infonce,
    "MatryoshkaLoss(MSELoss)": case_matryoshka_mse,
    "GISTEmbedLoss (pairs, absolute, margin 0)": case_gist_embed,
    "GISTEmbedLoss (triplets, relative, margin 0.1)": case_gist_embed_triplets_relative,
    "GISTEmbedLoss (triplets, absolute, margin 0.05)": case_gist_embed_absolute_margin,
}


def main() -> None:
    torch.set_num_threads(1)
    print(f"float64 embeddings; grid: seeds 0-2 x batch sizes 2, 5, 16 x dims 7, 32 ({len(GRID)} runs per loss)\n")
    print("| loss | max abs diff value | max abs diff gradient |")
    print("|---|---:|---:|")
    for name, case in CASES.items():
        diffs = [case(seed, n, d) for seed, n, d in GRID]
        print(f"| {name} | {max(v for v, _ in diffs):.1e} | {max(gr for _, gr in diffs):.1e} |")


if __name__ == "__main__":
    main()
