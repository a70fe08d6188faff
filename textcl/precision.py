"""Choosing and applying a compute precision (fp32, bf16, fp16) on CPU or CUDA."""

from __future__ import annotations

import contextlib
from typing import Literal, get_args

import torch

__all__ = ["Precision", "PRECISIONS", "cpu_has_fast_bf16", "resolve_precision", "autocast"]

Precision = Literal["auto", "float32", "bfloat16", "float16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # older torch
        return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """Turn ``auto`` (or an alias such as ``bf16``) into a concrete precision for ``device``.

    ``auto`` picks bf16 on a CUDA device that supports it (else fp16) and on a
    CPU with native bf16 instructions, float32 elsewhere.
    """
    precision = _ALIASES.get(precision, precision)
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)} "
                         "(or fp32 / bf16 / fp16)")
    device = torch.device(device)
    if precision != "auto":
        if precision == "float16" and device.type == "cpu":
            raise ValueError("float16 autocast is for CUDA; on CPU use bfloat16 or float32")
        return precision
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "bfloat16" if device.type == "cpu" and cpu_has_fast_bf16() else "float32"


def autocast(precision: str, device: torch.device | str) -> contextlib.AbstractContextManager:
    """An autocast context for a resolved precision (a no-op for float32)."""
    device = torch.device(device)
    if precision == "float32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


# Compute-dtype names; "precision" now means output quantisation (textcl.quantization), as in
# sentence-transformers.
DTYPES = PRECISIONS
resolve_dtype = resolve_precision
_LEGACY_COMPUTE = {"auto", "bfloat16", "float16", "fp32", "bf16", "fp16"}


def split_legacy_precision(dtype: str, precision: str) -> tuple[str, str]:
    """Map the old ``precision=`` compute-dtype values to ``dtype=``, with a warning.

    ``precision="auto" | "bfloat16" | "float16"`` used to choose the compute dtype; it now
    names the output quantisation (``float32``, ``int8``, ``uint8``, ``binary``, ``ubinary``).
    Old values keep working for one release: they set ``dtype`` and warn.

    Returns:
        ``(dtype, precision)`` with the legacy value moved over.
    """
    if precision in _LEGACY_COMPUTE:
        import warnings

        warnings.warn(f"encode(precision={precision!r}) is deprecated: the compute dtype is now dtype="
                      f"{_ALIASES.get(precision, precision)!r}; precision= selects the output quantisation "
                      "(float32, int8, uint8, binary, ubinary) as in sentence-transformers",
                      FutureWarning, stacklevel=3)
        return _ALIASES.get(precision, precision), "float32"
    return dtype, precision
