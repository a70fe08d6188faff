"""Shared fixtures: tiny random models built on the fly, and the network guard (no test reaches the net)."""

from __future__ import annotations

import os

# huggingface_hub, transformers and datasets read these when first imported: set them before any import.
# Subprocesses started by tests inherit them.
for _name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[_name] = "1"

import ipaddress  # noqa: E402
import socket  # noqa: E402

import pytest  # noqa: E402

from tiny_models import SENTENCES, SHARED_DATA, make_tiny_bert  # noqa: E402

# ---------------------------------------------------------------- network guard
# Loopback and AF_UNIX stay open: the multi-process tests run gloo / TCPStore over 127.0.0.1.
# Anything else raises NetworkBlocked and is recorded, so that a library catching the error
# (and falling back quietly) still fails the test in the ``no_network`` fixture below.

NETWORK_ATTEMPTS: list[str] = []
_LOCAL_NAMES = {"localhost", "", socket.gethostname()}


class NetworkBlocked(RuntimeError):
    """Raised for a connection or name lookup beyond this machine during the tests."""


def _is_local_host(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host in _LOCAL_NAMES:
        return True
    try:
        addr = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return addr.is_loopback or addr.is_unspecified


def _is_ip_literal(host) -> bool:
    try:
        ipaddress.ip_address((host.decode() if isinstance(host, bytes) else str(host)).split("%")[0])
    except ValueError:
        return False
    return True


def _block(what: str) -> None:
    NETWORK_ATTEMPTS.append(what)
    raise NetworkBlocked(f"tests must not use the network: {what}")


def _check(sock: socket.socket, address, what: str) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local_host(address[0]):
        _block(f"{what} {address!r}")


def _guarded_connect(method):
    def connect(self, address):
        _check(self, address, method.__name__)
        return method(self, address)
    return connect


def _guarded_sendto(method):
    def sendto(self, data, *rest):  # sendto(data, address) or sendto(data, flags, address)
        _check(self, rest[-1], "sendto")
        return method(self, data, *rest)
    return sendto


def _install_network_guard() -> None:
    getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not (_is_local_host(host) or _is_ip_literal(host)):  # an IP literal needs no DNS; connect checks it
            _block(f"name lookup of {host!r}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = _guarded_connect(socket.socket.connect)
    socket.socket.connect_ex = _guarded_connect(socket.socket.connect_ex)
    socket.socket.sendto = _guarded_sendto(socket.socket.sendto)
    socket.getaddrinfo = guarded_getaddrinfo


_install_network_guard()


@pytest.fixture
def network_attempts() -> list[str]:
    """The guard's record of blocked attempts (tests of the guard itself clear what they cause)."""
    return NETWORK_ATTEMPTS


@pytest.fixture(autouse=True)
def no_network():
    """Fail the test that tried to reach the network, even if the library swallowed the error."""
    before = len(NETWORK_ATTEMPTS)
    yield
    tried = NETWORK_ATTEMPTS[before:]
    if tried:
        pytest.fail(f"the test tried to reach the network ({len(tried)} attempt(s)): {tried[:3]}")


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> str:
    """A folder holding a tiny random BERT (hidden 32, 2 layers) and its tokenizer."""
    return make_tiny_bert(str(tmp_path_factory.mktemp("tiny_bert")))


@pytest.fixture
def sentences() -> list[str]:
    return list(SENTENCES)


@pytest.fixture
def shared_data() -> str:
    """``../shared/data``; skips the test when the benchmark data is absent (a user's fresh clone)."""
    if not os.path.isdir(os.path.join(SHARED_DATA, "senteval")):
        pytest.skip(f"benchmark data not found at {SHARED_DATA} (only present on the team's machines)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tiny models on one thread: much faster than two on a busy 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- fault marker
# Long fault-injection loops (kill -9 and resume, many points) are marked ``fault`` and
# skipped unless ``--run-fault`` or TEXTCL_FAULT=1: CI runs the default suite only.

def pytest_addoption(parser):
    parser.addoption("--run-fault", action="store_true", default=False,
                     help="run the long fault-injection loops (tests marked fault)")


def pytest_configure(config):
    config.addinivalue_line("markers", "fault: long fault-injection loop, off by default (--run-fault or "
                                       "TEXTCL_FAULT=1 turns it on)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-fault") or os.environ.get("TEXTCL_FAULT") == "1":
        return
    skip = pytest.mark.skip(reason="fault loop: pass --run-fault or set TEXTCL_FAULT=1")
    for item in items:
        if "fault" in item.keywords:
            item.add_marker(skip)
