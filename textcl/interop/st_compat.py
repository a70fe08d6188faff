"""Which textcl models sentence-transformers can express (a leaf module: no textcl imports).

Shared by the writer (:mod:`textcl.interop.sentence_transformers`), which gives the other models a
``modules.json`` naming textcl's own module class, and the model card.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ST_POOLING", "TEXTCL_ST_MODULE", "check_st_exportable", "st_exportable"]

#: The sentence-transformers module class that a textcl folder names in its ``modules.json`` when
#: sentence-transformers' own modules cannot express the model (:class:`textcl.st_module.TextclModule`).
TEXTCL_ST_MODULE = "textcl.st_module.TextclModule"

# textcl pooling -> the sentence-transformers Pooling flag that computes the same vector
ST_POOLING: dict[str, str] = {
    "mean": "pooling_mode_mean_tokens",
    "max": "pooling_mode_max_tokens",
    "cls_before_pooler": "pooling_mode_cls_token",
}
_ALTERNATIVE = "or save with format='textcl' (SentenceEncoder.from_pretrained reads that folder)"


def check_st_exportable(model: Any) -> None:
    """Raise ``ValueError`` if ``model`` has no exact sentence-transformers equivalent.

    The message names the part that cannot be expressed and what would work instead.
    """
    encoder = model.encoder
    if encoder.kind != "transformer":
        raise ValueError(
            f"a {encoder.kind!r} encoder cannot be saved in sentence-transformers format: that format "
            "holds a Hugging Face transformer followed by a Pooling module. Use a transformer encoder, "
            + _ALTERNATIVE)
    pooling = encoder.pooling
    if pooling == "cls":
        raise ValueError(
            "pooling 'cls' (the model's pooler output: dense + tanh over [CLS]) has no sentence-transformers "
            "Pooling equivalent; use pooling 'cls_before_pooler' (sentence-transformers' CLS pooling), "
            "'mean' or 'max', " + _ALTERNATIVE)
    if pooling not in ST_POOLING:
        raise ValueError(
            f"pooling {pooling!r} averages several layers' hidden states, which sentence-transformers' "
            f"Pooling module cannot read (it sees the last layer only); use one of "
            f"{', '.join(ST_POOLING)}, " + _ALTERNATIVE)


def st_exportable(model: Any) -> bool:
    """True when :func:`check_st_exportable` accepts ``model``."""
    try:
        check_st_exportable(model)
    except ValueError:
        return False
    return True
