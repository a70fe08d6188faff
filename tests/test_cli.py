"""The CLI dispatcher: user errors are one line and exit code 1, checked before any model loads."""

import pytest

from textcl.cli import check_device, main


def test_cuda_without_a_gpu_is_a_clear_error_not_an_assertion(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["encode", "--model", "nope", "--input", "x.txt", "--output", "y.npy", "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert "no CUDA GPU is visible" in err and "--device cpu" in err and "Traceback" not in err


@pytest.mark.parametrize("device, message", [("gpu", "is not a device"), ("cuda:7", "GPU"), ("meta", "unsupported")])
def test_bad_devices_are_named(device, message, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=message):
        check_device(device)
    check_device("cpu")
    check_device("cuda:0")


def test_malformed_yaml_config_is_named(tmp_path, capsys):
    bad = tmp_path / "cfg.yaml"
    bad.write_text("epochs: [1, 2\nlr: 0.1\n")
    data = tmp_path / "d.txt"
    data.write_text("a man plays .\na dog runs .\n")
    code = main(["train", "--encoder", "rnn", "--data", str(data), "--config", str(bad), "--output",
                 str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and "cfg.yaml is not valid YAML" in err and "Traceback" not in err
    bad.write_text("- 1\n- 2\n")
    assert main(["train", "--encoder", "rnn", "--data", str(data), "--config", str(bad), "--output",
                 str(tmp_path / "run")]) == 1
    assert "not a mapping of settings" in capsys.readouterr().err
