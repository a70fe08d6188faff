"""Output precision of a corpus encode: the ``.npy`` dtype and width, and per-chunk quantisation.

Quantisation is sentence-transformers' ``quantize_embeddings`` applied to each
chunk with *fixed* calibration ranges, so a chunked, resumed or sharded encode
writes the same bytes as one call over the whole corpus. ``int8`` / ``uint8``
therefore need ranges from the caller (a ``(2, dim)`` array of per-dimension
minimum and maximum) or saved with the model; computing them from each chunk
would make every chunk's scale differ.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

__all__ = ["OutputPrecision", "OUTPUT_PRECISIONS", "OutputFormat", "load_ranges"]

OutputPrecision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
OUTPUT_PRECISIONS: tuple[str, ...] = get_args(OutputPrecision)

# dtype of quantize_embeddings' output for each precision (binary is packed bits offset by -128, as int8)
_DTYPES = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8, "binary": np.int8, "ubinary": np.uint8}


def load_ranges(ranges: str | np.ndarray | None, dim: int) -> np.ndarray | None:
    """Read and check calibration ranges: a ``(2, dim)`` float array (row 0 minimum, row 1 maximum).

    Args:
        ranges: an array, a ``.npy`` path, or ``None``.
        dim: the model's embedding size.

    Raises:
        ValueError: wrong shape, non-finite values, or a minimum above its maximum.
    """
    if ranges is None:
        return None
    where = ranges if isinstance(ranges, str) else "ranges"
    if isinstance(ranges, (str, os.PathLike)):
        if not os.path.isfile(ranges):
            raise FileNotFoundError(f"ranges file {ranges} does not exist")
        ranges = np.load(ranges, allow_pickle=False)
    ranges = np.asarray(ranges, dtype=np.float32)
    if ranges.shape != (2, dim):
        raise ValueError(f"{where}: calibration ranges must have shape (2, {dim}) (row 0 = per-dimension minimum, "
                         f"row 1 = maximum), got {ranges.shape}")
    if not np.isfinite(ranges).all() or (ranges[0] > ranges[1]).any():
        raise ValueError(f"{where}: calibration ranges must be finite with minimum <= maximum in every dimension")
    return ranges


@dataclass(frozen=True)
class OutputFormat:
    """The output ``.npy``'s precision, and how each float32 chunk becomes it.

    Args:
        precision: one of :data:`OUTPUT_PRECISIONS`.
        dim: the model's embedding size.
        ranges: ``(2, dim)`` calibration ranges; required for ``int8`` / ``uint8``.

    Raises:
        ValueError: an unknown precision, or ``int8`` / ``uint8`` without ranges.
    """

    precision: str
    dim: int
    ranges: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.precision not in OUTPUT_PRECISIONS:
            raise ValueError(f"unknown output precision {self.precision!r}: choose one of "
                             f"{', '.join(OUTPUT_PRECISIONS)}")
        if self.precision in ("int8", "uint8") and self.ranges is None:
            raise ValueError(f"precision {self.precision!r} needs calibration ranges, so that every chunk and shard "
                             "is scaled alike: pass a (2, dim) .npy of per-dimension min and max (--ranges FILE.npy, "
                             "e.g. np.stack([emb.min(0), emb.max(0)]) over a sample of float32 embeddings)")

    @property
    def dtype(self) -> np.dtype:
        """The output array's dtype."""
        return np.dtype(_DTYPES[self.precision])

    @property
    def width(self) -> int:
        """Columns of the output: ``dim``, or ``ceil(dim / 8)`` packed bytes for the binary precisions."""
        return -(-self.dim // 8) if self.precision.endswith("binary") else self.dim

    def describe(self) -> dict[str, object]:
        """JSON-able settings, compared when a job resumes (ranges by SHA-256)."""
        ranges = None if self.ranges is None else hashlib.sha256(self.ranges.tobytes()).hexdigest()
        return {"precision": self.precision, "ranges_sha256": ranges}

    def convert(self, emb: np.ndarray) -> np.ndarray:
        """Turn one chunk of float32 embeddings ``(rows, dim)`` into the output ``(rows, width)``."""
        if self.precision == "float32":
            return np.asarray(emb, dtype=np.float32)
        from sentence_transformers import quantize_embeddings  # heavy import: only when quantising

        return quantize_embeddings(np.asarray(emb, dtype=np.float32), precision=self.precision, ranges=self.ranges)
