"""Inference backends: other engines that run a ``SentenceEncoder``'s forward pass.

A backend is prepared once from a float32 model (``prepare(model, "onnx-int8")``)
and then maps a tokenized batch to pooled embeddings, exactly what
``model(features)`` returns in eval mode (encoder, pooling and projection head),
always as float32. Preparing never touches the model: the backend owns its own
copy of the weights, so training and float32 evaluation keep working on the
same object.

Backends:

- ``torch``: the model itself (eager PyTorch, float32). Always available.
- ``onnx``: the model exported to ONNX, with the transformer fusions of
  ``onnxruntime.transformers`` (attention, skip-LayerNorm, bias-GELU), run by
  ONNX Runtime in float32. Needs ``pip install onnxruntime onnx``.
- ``onnx-int8``: the same graph with its matrix multiplications dynamically
  quantised to int8 (weights per output channel, activations per batch).
  Needs ``pip install onnxruntime onnx``.
- ``onnx-int8-mixed``: ``onnx-int8`` with the matrix products of the roles in
  :data:`textcl.backends.onnx_runtime.MIXED_FLOAT32_ROLES` kept in float32,
  found from the graph's structure (see that module). Closer to float32 than
  ``onnx-int8``, a little slower. Needs ``pip install onnxruntime onnx``.

Example:
    >>> from textcl.backends import prepare
    >>> backend = prepare(model, "onnx-int8")          # doctest: +SKIP
    >>> emb = backend(model.tokenize(["A man plays a guitar."]))  # (1, dim) float32
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from textcl.backends.base import BackendUnavailableError, PreparedBackend, parameter_versions

__all__ = [
    "Backend",
    "BACKENDS",
    "BackendUnavailableError",
    "PreparedBackend",
    "available_backends",
    "validate_backend",
    "prepare",
    "cached_backend",
]

Backend = Literal["torch", "onnx", "onnx-int8", "onnx-int8-mixed"]
BACKENDS: tuple[str, ...] = get_args(Backend)
_CACHE_ATTR = "_textcl_backends"


def validate_backend(backend: str) -> str:
    """Return ``backend`` if it is a known backend name, else raise ``ValueError`` listing them."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    return backend


def _missing(backend: str) -> str | None:
    """Why ``backend`` cannot run here (a message with the fix), or None when it can."""
    if backend == "torch":
        return None
    from textcl.backends.onnx_runtime import missing_requirements

    return missing_requirements()


def available_backends() -> list[str]:
    """The backends that can run with the packages installed here (``torch`` always)."""
    return [name for name in BACKENDS if _missing(name) is None]


def prepare(model: Any, backend: str, **options: Any) -> PreparedBackend:
    """Build ``backend`` for ``model`` (a :class:`textcl.SentenceEncoder`).

    Args:
        model: the float32 model; it is read, never modified.
        backend: one of :data:`BACKENDS`.
        **options: backend settings, e.g. ``threads=`` for the ONNX backends
            (see :class:`textcl.backends.onnx_runtime.OnnxRuntimeBackend`).

    Returns:
        A callable ``features -> (batch, dim)`` float32 tensor, equal (within
        the backend's precision) to ``model(features)`` in eval mode.

    Raises:
        ValueError: an unknown backend name, or a model the backend cannot run
            (the ONNX backends need a transformer encoder).
        BackendUnavailableError: the backend's packages are missing (the
            message names them and the ``pip install`` that adds them).
    """
    validate_backend(backend)
    reason = _missing(backend)
    if reason is not None:
        raise BackendUnavailableError(f"backend {backend!r} is unavailable: {reason}")
    if backend == "torch":
        from textcl.backends.torch_eager import TorchBackend

        return TorchBackend(model, **options)
    from textcl.backends.onnx_runtime import OnnxRuntimeBackend

    if backend == "onnx-int8-mixed":
        from textcl.backends.onnx_runtime import MIXED_FLOAT32_ROLES

        options.setdefault("float32_roles", MIXED_FLOAT32_ROLES)
    return OnnxRuntimeBackend(model, quantize=backend.startswith("onnx-int8"), **options)


def cached_backend(model: Any, backend: str, **options: Any) -> PreparedBackend:
    """``prepare(model, backend)``, kept on the model and reused until its weights change.

    The prepared backend is stored in a plain attribute of ``model`` (not a
    submodule: it is never saved, moved or trained with the model). It is
    rebuilt when any parameter has been modified in place since it was built
    (an optimiser step does that), when parameters were replaced, or when
    ``options`` differ.

    Args:
        model: the :class:`textcl.SentenceEncoder` to run.
        backend: one of :data:`BACKENDS`.
        **options: as for :func:`prepare`.
    """
    cache: dict[str, tuple[Any, tuple, PreparedBackend]] = model.__dict__.setdefault(_CACHE_ATTR, {})
    key = (backend, tuple(sorted(options.items())))
    versions = parameter_versions(model)
    hit = cache.get(backend)
    if hit is not None and hit[0] == key and hit[1] == versions:
        return hit[2]
    prepared = prepare(model, backend, **options)
    cache[backend] = (key, versions, prepared)
    return prepared
