"""The compute dtype (float32, bfloat16, float16): chosen for a device, applied as autocast."""

from __future__ import annotations

import contextlib
from typing import Literal, get_args

import torch

__all__ = ["Dtype", "DTYPES", "cpu_has_fast_bf16", "resolve_dtype", "autocast", "check_not_legacy_precision"]

Dtype = Literal["auto", "float32", "bfloat16", "float16"]
DTYPES: tuple[str, ...] = get_args(Dtype)
_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # older torch
        return False


def resolve_dtype(dtype: str, device: torch.device | str) -> str:
    """Turn ``auto`` (or an alias such as ``bf16``) into a concrete dtype for ``device``.

    ``auto`` picks bf16 on a CUDA device that supports it (else fp16) and on a
    CPU with native bf16 instructions, float32 elsewhere.
    """
    dtype = _ALIASES.get(dtype, dtype)
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: choose one of {', '.join(DTYPES)} "
                         "(or fp32 / bf16 / fp16)")
    device = torch.device(device)
    if dtype != "auto":
        if dtype == "float16" and device.type == "cpu":
            raise ValueError("float16 autocast is for CUDA; on CPU use bfloat16 or float32")
        return dtype
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


_LEGACY_COMPUTE = {"auto", "bfloat16", "float16", "fp32", "bf16", "fp16"}


def check_not_legacy_precision(precision: str) -> str:
    """Refuse a compute dtype passed as ``precision=`` (textcl 0.2's spelling), naming ``dtype=``.

    ``precision`` names the output quantisation (``float32``, ``int8``, ``uint8``, ``binary``,
    ``ubinary``), as in sentence-transformers; the compute dtype is ``dtype=``.
    """
    if precision in _LEGACY_COMPUTE:
        raise ValueError(f"precision={precision!r} is a compute dtype: pass dtype={_ALIASES.get(precision, precision)!r} "
                         "(precision= selects the output quantisation: float32, int8, uint8, binary, ubinary)")
    return precision
