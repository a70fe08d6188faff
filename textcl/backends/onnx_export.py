"""Export a transformer ``SentenceEncoder`` (encoder, pooling, head) to one ONNX graph.

The graph takes the tokenized batch and returns the pooled (and projected)
sentence vectors, so pooling runs in the graph through the very function the
PyTorch path uses (:func:`textcl.encoders.pooling.pool`), and the backend
cannot pool differently from the model.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import torch
from torch import nn

from textcl.backends.base import transformer_of
from textcl.encoders.pooling import pool

__all__ = ["MATMUL_ROLES", "PooledGraph", "export_onnx", "fuse_transformer", "matmul_roles"]

_NEEDS_ALL_LAYERS = {"first_last_avg", "last2_avg"}
#: what each weight-bearing operator of a fused transformer does (the ones int8 quantisation touches):
#: the embedding lookup, then per layer the attention's QKV and output products and the FFN's two
MATMUL_ROLES = ("embedding", "attention_qkv", "attention_output", "ffn_input", "ffn_output")
_GELUS = {"Gelu", "BiasGelu", "FastGelu", "QuickGelu"}


class PooledGraph(nn.Module):
    """Encoder + pooling + optional projection head, positional inputs, for tracing.

    Args:
        model: a :class:`textcl.SentenceEncoder` with a transformer encoder; its
            transformer and head are deep-copied, never modified.
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        encoder = transformer_of(model)
        self.pooling = encoder.pooling
        self.transformer = copy.deepcopy(encoder.model).float().cpu().eval()
        # Eager attention exports as plain MatMul / Softmax, the pattern ONNX Runtime fuses
        # into its Attention kernel; SDPA's export does not fuse.
        if hasattr(self.transformer, "set_attn_implementation"):
            self.transformer.set_attn_implementation("eager")
        head = getattr(model, "projection", None)
        self.projection = copy.deepcopy(head).float().cpu().eval() if head is not None else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, seq) ids, mask and segment ids -> (batch, dim) float32 vectors."""
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        all_layers = self.pooling in _NEEDS_ALL_LAYERS
        out = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                               output_hidden_states=all_layers, return_dict=True, **kwargs)
        hidden = out.hidden_states if all_layers else (out.last_hidden_state,)
        emb = pool(self.pooling, hidden, attention_mask, getattr(out, "pooler_output", None))
        if self.projection is not None:
            emb = self.projection(emb)
        return emb.float()  # (batch, dim)


def _dummy_features(model: Any) -> dict[str, torch.Tensor]:
    """A padded two-sentence batch: tracing must see padding so that no mask branch is dropped."""
    encoder = transformer_of(model)
    features = encoder.tokenize(["a b c d e f", "a"])
    mask = features["attention_mask"]
    if bool(mask.all()):  # a tokenizer that maps both to one length: pad by hand
        raise ValueError("could not build a padded batch to trace the model with: the tokenizer "
                         "gives both tracing sentences the same length")
    return features


def export_onnx(model: Any, path: str, opset: int = 17) -> list[str]:
    """Write ``model``'s eval-mode forward pass to the ONNX file ``path``.

    Batch size and sequence length stay dynamic. Uses PyTorch's TorchScript
    exporter, whose graph ONNX Runtime's transformer optimiser fuses (the
    ``torch.export`` exporter's graph does not match its fusion patterns).

    Args:
        model: a :class:`textcl.SentenceEncoder` with a transformer encoder.
        path: output ``.onnx`` file.
        opset: ONNX opset.

    Returns:
        The graph's input names, in order.
    """
    graph = PooledGraph(model)
    features = _dummy_features(model)
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in features]
    axes = {k: {0: "batch", 1: "sequence"} for k in names}
    axes["embedding"] = {0: "batch"}
    with warnings.catch_warnings():
        # the TorchScript exporter's deprecation notice, and tracer notes about Python booleans
        # in transformers' mask code (the padded dummy batch takes the general branch)
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, tuple(features[k] for k in names), path, input_names=names,
                          output_names=["embedding"], dynamic_axes=axes, opset_version=opset,
                          dynamo=False)
    return names


def fuse_transformer(src: str, dst: str, config: Any) -> dict[str, int]:
    """Apply ONNX Runtime's transformer fusions (attention, skip-LayerNorm, bias-GELU) to ``src``.

    Args:
        src: the exported float32 graph.
        dst: where to write the fused graph.
        config: the Hugging Face config (heads and hidden size).

    Returns:
        How many of each fused operator the graph now has (empty counts mean
        the pattern was not recognised: the graph still runs, unfused).
    """
    from onnxruntime.transformers import optimizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fused = optimizer.optimize_model(src, model_type="bert", num_heads=int(config.num_attention_heads),
                                         hidden_size=int(config.hidden_size), opt_level=0)
    fused.save_model_to_file(dst)
    stats = fused.get_fused_operator_statistics()
    return {k: int(v) for k, v in stats.items() if v}


def matmul_roles(graph: Any) -> dict[str, str]:
    """The role (one of :data:`MATMUL_ROLES`) of each weight product of a fused ONNX graph, by node name.

    Roles come from the graph's structure, not from node names: the fused
    ``EmbedLayerNormalization`` is the embedding (ONNX Runtime quantises its
    tables too); a fused ``Attention`` node is the attention's QKV projection; a ``MatMul`` fed by a
    GELU is the feed-forward output, one fed by a LayerNorm the feed-forward
    input, and one fed by the attention (through its reshape) the attention
    output. A ``MatMul`` whose input matches none of these (a projection head,
    an unfused graph) gets no role and is left out.

    Args:
        graph: an ``onnx.ModelProto``, or the path of an ONNX file.
    """
    import onnx

    model = onnx.load(graph) if isinstance(graph, str) else graph
    producer = {out: node for node in model.graph.node for out in node.output}

    def source(name: str) -> Any:
        """The operator that feeds ``name``, looking through shape-only operators."""
        node = producer.get(name)
        while node is not None and node.op_type in ("Reshape", "Transpose", "Cast"):
            node = producer.get(node.input[0])
        return node

    roles: dict[str, str] = {}
    for node in model.graph.node:
        if node.op_type == "EmbedLayerNormalization":
            roles[node.name] = "embedding"
        elif node.op_type == "Attention":
            roles[node.name] = "attention_qkv"
        elif node.op_type == "MatMul":
            feeder = source(node.input[0])
            kind = "" if feeder is None else feeder.op_type
            if kind in _GELUS:
                roles[node.name] = "ffn_output"
            elif "LayerNorm" in kind:
                roles[node.name] = "ffn_input"
            elif kind in ("Attention", "MultiHeadAttention"):
                roles[node.name] = "attention_output"
    return roles
