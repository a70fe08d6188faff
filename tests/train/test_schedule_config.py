"""Schedule and config: pure functions and validated settings."""

import pytest

from textcl.train.config import TrainConfig, load_config
from textcl.train.optim import linear_warmup_decay


def test_linear_warmup_then_decay():
    values = [linear_warmup_decay(s, total_steps=10, warmup_steps=2) for s in range(11)]
    assert values[0] == pytest.approx(1 / 3) and values[1] == pytest.approx(2 / 3)
    assert values[2] == pytest.approx(1.0) and values[6] == pytest.approx(0.5) and values[10] == 0.0
    assert linear_warmup_decay(0, 10, 0) == 1.0


def test_config_validation_and_yaml(tmp_path):
    with pytest.raises(ValueError, match=r"lr \(--lr\) must be .*got -1"):
        TrainConfig(lr=-1)
    p = tmp_path / "c.yaml"
    p.write_text("lr: 0.001\nbatch_size: 8\n")
    cfg = load_config(str(p), epochs=3)
    assert (cfg.lr, cfg.batch_size, cfg.epochs) == (0.001, 8, 3)
    p.write_text("learning_rate: 0.1\n")
    with pytest.raises(ValueError, match="unknown setting.*learning_rate"):
        load_config(str(p))
