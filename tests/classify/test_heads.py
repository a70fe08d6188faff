"""Classification heads: closed modes, shapes, closed-form outputs, config round trip."""

import pytest
import torch

from textcl.classify.heads import HEAD_TYPES, LinearHead, MLPHead, build_head, validate_head


def test_head_types_are_closed():
    assert HEAD_TYPES == ("linear", "mlp")
    assert validate_head("mlp") == "mlp"
    with pytest.raises(ValueError, match="unknown head 'svm': choose one of linear, mlp"):
        build_head("svm", 8, 2)


def test_linear_head_is_an_affine_map():
    torch.manual_seed(0)
    head = LinearHead(8, 3).eval()
    x = torch.randn(5, 8)
    expected = x @ head.linear.weight.T + head.linear.bias  # (5, 3)
    torch.testing.assert_close(head(x), expected)


def test_mlp_head_matches_hand_computation():
    torch.manual_seed(0)
    head = MLPHead(8, 3, hidden_dim=6, dropout=0.5).eval()  # eval: dropout off
    x = torch.randn(4, 8)
    first, last = head.net[1], head.net[4]
    hidden = torch.nn.functional.gelu(x @ first.weight.T + first.bias)  # (4, 6)
    torch.testing.assert_close(head(x), hidden @ last.weight.T + last.bias)
    assert head(x).shape == (4, 3)


@pytest.mark.parametrize("kind, kwargs", [("linear", {}), ("mlp", {}), ("mlp", {"hidden_dim": 5, "dropout": 0.2})])
def test_config_rebuilds_the_same_head(kind, kwargs):
    head = build_head(kind, 8, 4, **kwargs)
    again = build_head(**{k: v for k, v in head.get_config().items()})
    again.load_state_dict(head.state_dict())
    assert again.get_config() == head.get_config()
    x = torch.randn(3, 8)
    torch.testing.assert_close(again.eval()(x), head.eval()(x))


def test_default_dropout_and_mlp_width():
    assert build_head("linear", 8, 2).get_config()["dropout"] == 0.0
    cfg = build_head("mlp", 8, 2).get_config()
    assert cfg["dropout"] == 0.1 and cfg["hidden_dim"] == 8


@pytest.mark.parametrize("kwargs, msg", [
    (dict(head="linear", in_dim=0, num_labels=2), "in_dim must be >= 1"),
    (dict(head="linear", in_dim=4, num_labels=1), "num_labels must be >= 2"),
    (dict(head="mlp", in_dim=4, num_labels=2, dropout=1.0), r"dropout must be in \[0, 1\)"),
    (dict(head="mlp", in_dim=4, num_labels=2, hidden_dim=0), r"hidden_dim \(--hidden-dim\) must be an int >= 1"),
    (dict(head="linear", in_dim=4, num_labels=2, hidden_dim=3), "hidden_dim is for the mlp head"),
])
def test_bad_arguments_fail_fast(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        build_head(**kwargs)
