"""``textcl encode`` as real processes: sharded over 2 gloo ranks by torchrun, and kill -9 then ``--resume``.

Every run computes in float32 on one thread, so a chunk's bytes do not depend on
the process or rank that encoded it: the sharded, the killed-and-resumed and the
in-process outputs must be byte-identical.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from launcher import free_port, transient_failure
from textcl.cli import main
from textcl.corpus import compute_dtype_kwargs, encode_file, partial_path, progress_path
from textcl.corpus.progress import from_ranges
from textcl.model import SentenceEncoder

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="kills process trees found through /proc")]

WORLD_SIZE = 2
KILL_ROWS, KILL_CHUNK = 1200, 20  # 60 chunks: seconds of work, so the kill lands mid-run


@pytest.fixture(scope="module")
def model(tiny_bert_dir):
    return SentenceEncoder.from_pretrained(tiny_bert_dir, device="cpu")


@pytest.fixture(scope="module")
def env():
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # both ranks are local
    return env


def corpus_file(path, sentences, rows):
    texts = [f"{sentences[i % 16]} {sentences[(7 * i + 3) % 16]}" for i in range(rows)]
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return str(path), texts


def encode_args(model_dir, src, out, chunk_size, batch_size=8):
    return ["encode", "--model", model_dir, "--input", src, "--output", out, "--chunk-size", str(chunk_size),
            "--batch-size", str(batch_size), "--dtype", "float32", "--device", "cpu"]


def torchrun(args):
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={WORLD_SIZE}",
            "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "textcl.cli", *args]


def run_torchrun(args, env):
    """Run to the end; return rank 0's printed summary."""
    for _ in range(3):  # retry only a port race or gloo's rare abort at teardown
        done = subprocess.run(torchrun(args), env=env, capture_output=True, text=True, timeout=600)
        output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        summary = [line for line in done.stdout.splitlines() if line.startswith('{"output"')]
        if done.returncode == 0 or not transient_failure(output):
            break
        if summary:  # the job finished (output renamed into place); only the teardown aborted
            return json.loads(summary[-1])
    assert done.returncode == 0, f"torchrun failed:\n{output}"
    return json.loads(summary[-1])


def process_tree(root):
    """``root`` and all its descendants (torchrun starts each worker in a session of its own)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def kill_tree(root):
    for pid in process_tree(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_after_first_chunk(command, out, env):
    """Start ``command``; SIGKILL it and every process it started once a chunk is recorded."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the encode ended (exit {proc.returncode}) before it could be killed: "
                        f"{proc.stderr.read()[-2000:]}")
        try:
            with open(progress_path(out)) as f:
                finished = from_ranges(json.load(f)["finished_chunks"])
        except (FileNotFoundError, ValueError):
            finished = set()
        if finished:
            tree = process_tree(proc.pid)
            kill_tree(proc.pid)
            proc.wait()
            for _ in range(500):  # the workers are not our children: wait until they are gone
                if not any(os.path.exists(f"/proc/{pid}") and _alive(pid) for pid in tree):
                    return
                time.sleep(0.01)
            pytest.fail(f"processes {tree} survived SIGKILL")
        time.sleep(0.005)
    kill_tree(proc.pid)
    pytest.fail("no chunk was recorded within the time limit")


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, just not reaped
    except OSError:
        return False


@pytest.fixture(scope="module")
def kill_corpus(tmp_path_factory, model):
    from tiny_models import SENTENCES

    folder = tmp_path_factory.mktemp("kill")
    src, _ = corpus_file(folder / "corpus.txt", SENTENCES, KILL_ROWS)
    reference = str(folder / "reference.npy")  # one uninterrupted in-process run
    encode_file(model, src, reference, chunk_size=KILL_CHUNK, batch_size=8, dtype="float32")
    with open(reference, "rb") as f:
        return src, f.read()


def test_two_gloo_ranks_equal_one_process(model, tiny_bert_dir, sentences, tmp_path, env):
    src, texts = corpus_file(tmp_path / "corpus.txt", sentences, 45)  # 9 chunks of 5 over 2 ranks: 5 + 4
    out = str(tmp_path / "emb.npy")
    summary = run_torchrun(encode_args(tiny_bert_dir, src, out, chunk_size=5), env)
    assert (summary["world_size"], summary["rows"], summary["chunks"]) == (WORLD_SIZE, 45, 9)
    got = np.load(out)
    want = model.encode(texts, batch_size=8, **compute_dtype_kwargs(model, "float32"))
    assert got.shape == (45, 32)
    np.testing.assert_allclose(got, want, atol=1e-6)
    one = str(tmp_path / "one.npy")
    assert main(encode_args(tiny_bert_dir, src, one, chunk_size=5)) == 0
    np.testing.assert_allclose(got, np.load(one), atol=1e-6)
    assert not os.path.exists(partial_path(out)) and not os.path.exists(progress_path(out))


def test_kill_9_then_resume_is_byte_identical(tiny_bert_dir, kill_corpus, tmp_path, env, capsys):
    src, reference = kill_corpus
    out = str(tmp_path / "emb.npy")
    args = encode_args(tiny_bert_dir, src, out, chunk_size=KILL_CHUNK)
    kill_after_first_chunk([sys.executable, "-m", "textcl.cli", *args], out, env)
    assert not os.path.exists(out) and os.path.exists(partial_path(out))
    with open(progress_path(out)) as f:
        done_before = from_ranges(json.load(f)["finished_chunks"])
    assert 1 <= len(done_before) < KILL_ROWS // KILL_CHUNK

    assert main(args) == 1  # without --resume the leftover is refused, not overwritten
    assert "pass --resume" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["skipped_chunks"] == len(done_before) >= 1
    assert summary["encoded_chunks"] == KILL_ROWS // KILL_CHUNK - len(done_before)
    with open(out, "rb") as f:
        assert f.read() == reference


def test_kill_9_sharded_then_resume_sharded_is_byte_identical(tiny_bert_dir, kill_corpus, tmp_path, env):
    src, reference = kill_corpus
    out = str(tmp_path / "emb.npy")
    args = encode_args(tiny_bert_dir, src, out, chunk_size=KILL_CHUNK)
    kill_after_first_chunk(torchrun(args), out, env)
    with open(progress_path(out)) as f:
        done_before = from_ranges(json.load(f)["finished_chunks"])
    assert not os.path.exists(out) and len(done_before) >= 1

    summary = run_torchrun(args + ["--resume"], env)
    assert summary["skipped_chunks"] == len(done_before) and summary["world_size"] == WORLD_SIZE
    with open(out, "rb") as f:
        assert f.read() == reference
