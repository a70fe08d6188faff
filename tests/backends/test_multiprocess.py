"""``textcl.backends.multiprocess``: worker processes on ["cpu", "cpu"] give what one process gives, in input order."""

import numpy as np
import pytest

from textcl.corpus import compute_dtype_kwargs
from textcl.model import SentenceEncoder
from textcl.backends.multiprocess import encode_multi_process, encode_with_pool, start_pool, stop_pool

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")


@pytest.fixture
def texts(sentences):
    return [f"{a} {b}" for a in sentences[:5] for b in sentences[5:8]]  # 15 rows of mixed lengths


def test_two_cpu_workers_equal_one_device(model, texts):
    fp32 = compute_dtype_kwargs(model, "float32")
    want = model.encode(texts, **fp32)
    got = encode_multi_process(model, texts, ["cpu", "cpu"], chunk_size=4, threads_per_worker=1, **fp32)
    assert got.shape == want.shape == (15, 32) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_pool_from_a_folder_is_reused_and_reports_worker_errors(model, tiny_bert_dir, texts):
    fp32 = compute_dtype_kwargs(model, "float32")
    with pytest.raises(ValueError, match="loader="):
        start_pool(tiny_bert_dir, ["cpu"])
    pool = start_pool(tiny_bert_dir, ["cpu", "cpu"], threads_per_worker=1, loader=SentenceEncoder.from_pretrained)
    try:
        with pytest.raises(ValueError, match="worker on cpu"):
            encode_with_pool(pool, ["a dog .", ""], **fp32)  # encode refuses empty texts in the worker
        np.testing.assert_allclose(encode_with_pool(pool, texts, chunk_size=2, normalize=True, **fp32),
                                   model.encode(texts, normalize=True, **fp32), atol=1e-6)
        np.testing.assert_allclose(encode_with_pool(pool, texts[::-1], **fp32), model.encode(texts[::-1], **fp32),
                                   atol=1e-6)
    finally:
        stop_pool(pool)
    assert not any(p.is_alive() for p in pool.processes)


def test_bad_arguments():
    with pytest.raises(ValueError, match="devices is empty"):
        start_pool("unused", [])
