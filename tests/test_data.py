"""Tests for satsim.data: IDX/pickle/npz readers, search, bundled subset, fetch over HTTP."""

import gzip
import hashlib
import http.server
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from satsim import cli, data
from satsim.data import DatasetError
from satsim.data import _fetch as data_fetch


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def write_mnist_dir(d: Path, n_train=30, n_test=10, seed=0, compress=True):
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test),
    }
    d.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        raw = idx_bytes(arr)
        (d / name).write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    return arrays


# ------------------------------------------------------------------ IDX
@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_roundtrip(tmp_path, compress):
    arrays = write_mnist_dir(tmp_path, compress=compress)
    got = data.read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(got, arrays["train-images-idx3-ubyte.gz"])
    assert got.dtype == np.uint8 and got.shape == (30, 28, 28)


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc", "bad magic number"),
        (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x02" + (3).to_bytes(4, "big"), "truncated IDX header"),
        (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", "payload has 3 bytes"),
        (b"", "bad magic number"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path, payload, match):
    p = tmp_path / "bad.idx"
    p.write_bytes(payload)
    with pytest.raises(DatasetError, match=match) as info:
        data.read_idx(p)
    assert "bad.idx" in str(info.value)  # the error names the file


def test_read_idx_rejects_truncated_gzip(tmp_path):
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.zeros((4, 4))))[:-10])
    with pytest.raises(DatasetError, match="corrupt or truncated gzip"):
        data.read_idx(p)


# ------------------------------------------------------------------ load / search
def test_load_from_directory_and_env_search(tmp_path, monkeypatch):
    # synthetic files are not the registered MNIST files: verify=False to read them
    # (this test used to load them with verify=True, which verified nothing for MNIST)
    arrays = write_mnist_dir(tmp_path / "mnist", n_train=30)
    ds = data.load("mnist", source=tmp_path / "mnist", split="standard", verify=False)
    X, y = ds.train
    assert X.shape == (30, 784) and X.dtype == np.float64 and X.min() >= 0 and X.max() <= 1
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte.gz"])
    assert ds.validation is None and "IDX files in" in ds.source
    assert "not verified" in ds.source
    monkeypatch.setenv("SATSIM_DATA", str(tmp_path))
    found = data.load("mnist", split="standard", verify=False)
    assert str(tmp_path / "mnist") in found.source
    with pytest.raises(DatasetError, match="needs the full training file"):
        data.load("mnist", verify=False)  # Nielsen's split needs 60 000 training images


def test_load_reports_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("SATSIM_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetError, match=r"no data found \(looked in .*satsim data fetch mnist"):
        data.load("mnist")


def test_content_checksum_is_verified(tmp_path, monkeypatch):
    write_mnist_dir(tmp_path / "fake")
    with pytest.raises(DatasetError, match="content SHA-256 does not match"):
        data.load("fashion-mnist", source=tmp_path / "fake", split="standard")
    ds = data.load("fashion-mnist", source=tmp_path / "fake", split="standard", verify=False)
    assert ds.train[0].shape[0] == 30


def test_bundled_subset_is_stratified_real_data():
    ds = data.load("fashion-mnist", source="bundled")
    assert "bundled" in ds.source
    for (X, y), per_class in ((ds.train, 1000), (ds.validation, 200), (ds.test, 200)):
        assert X.shape == (10 * per_class, 784)
        np.testing.assert_array_equal(np.bincount(y), per_class)
    with np.load(data.BUNDLED) as raw:
        meta = raw["metadata"].item()
        assert "MIT" in meta and "20261126" in meta
        # training and validation images are disjoint draws from the training file
        assert not set(raw["train_index"]) & set(raw["val_index"])


@pytest.mark.skipif(not data.DEBIAN_FASHION.is_dir(), reason="dataset-fashion-mnist not installed")
def test_debian_fashion_mnist_and_subset_is_reproducible(tmp_path):
    ds = data.load("fashion-mnist", source=data.DEBIAN_FASHION)
    assert [len(p[1]) for p in (ds.train, ds.validation, ds.test)] == [50_000, 10_000, 10_000]
    out = data.build_subset(data.DEBIAN_FASHION, tmp_path / "subset.npz")
    with np.load(out) as a, np.load(data.BUNDLED) as b:
        for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            np.testing.assert_array_equal(a[key], b[key])


# ------------------------------------------------------------------ pickle / npz
def test_nielsen_pickle_reader(tmp_path):
    rng = np.random.default_rng(1)
    parts = tuple((rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n))
                  for n in (20, 5, 5))
    p = tmp_path / "mnist.pkl.gz"
    with gzip.open(p, "wb") as fh:
        pickle.dump(parts, fh)
    train, val, _ = data.read_nielsen_pickle(p)
    assert train[0].shape == (20, 784) and val[0].shape == (5, 784)
    ds = data.load("mnist", source=p)
    assert ds.validation[1].shape == (5,) and "Nielsen pickle" in ds.source


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_nielsen_pickle_refuses_arbitrary_objects(tmp_path):
    p = tmp_path / "mnist.pkl.gz"
    with gzip.open(p, "wb") as fh:
        pickle.dump(Evil(), fh)
    with pytest.raises(DatasetError, match="refusing to load"):
        data.read_nielsen_pickle(p)


def test_npz_reader_validates(tmp_path):
    rng = np.random.default_rng(2)
    good = tmp_path / "m.npz"
    np.savez(good, x_train=rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
             y_train=np.arange(8) % 10, x_test=rng.integers(0, 256, (4, 784), dtype=np.uint8),
             y_test=np.arange(4))
    train, val, _ = data.read_npz(good)
    assert train[0].shape == (8, 784) and val is None
    bad = tmp_path / "b.npz"
    np.savez(bad, x_train=np.full((2, 784), np.nan), y_train=[0, 1], x_test=np.zeros((1, 784)),
             y_test=[0])
    with pytest.raises(DatasetError, match="NaN"):
        data.read_npz(bad)
    labels = tmp_path / "l.npz"
    np.savez(labels, x_train=np.zeros((2, 784)), y_train=[0, 12], x_test=np.zeros((1, 784)),
             y_test=[0])
    with pytest.raises(DatasetError, match=r"labels outside \[0, 9\]"):
        data.read_npz(labels)
    with pytest.raises(DatasetError, match="missing arrays"):
        np.savez(tmp_path / "x.npz", x_train=np.zeros(1))
        data.read_npz(tmp_path / "x.npz")


# ------------------------------------------------------------------ fetch over HTTP
@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fetch_verifies_and_refuses_corruption(tmp_path, http_server):
    root, url = http_server
    write_mnist_dir(root)
    sums = {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in data.FILES}
    data.register("fixture-mnist", files=sums, mirrors=[url])
    dest = data.fetch("fixture-mnist", dest=tmp_path / "dl", progress=False)
    assert sorted(p.name for p in dest.iterdir()) == sorted(data.FILES)
    # corrupt one file on the mirror: the download must fail and leave nothing behind
    (tmp_path / "dl2").mkdir()
    victim = root / "t10k-labels-idx1-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:-3] + b"xyz")
    with pytest.raises(DatasetError, match="does not match the registered"):
        data.fetch("fixture-mnist", dest=tmp_path / "dl2", progress=False)
    assert not (tmp_path / "dl2" / "t10k-labels-idx1-ubyte.gz").exists()
    # nothing else either: no temporary file, no partial file
    assert {p.name for p in (tmp_path / "dl2").iterdir()} <= set(data.FILES)


def test_fetch_cli_and_unreachable_mirror(tmp_path, http_server, capsys):
    root, url = http_server
    write_mnist_dir(root)
    sums = {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in data.FILES}
    data.register("fixture-cli", files=sums, mirrors=[url])
    assert cli.main(["data", "fetch", "fixture-cli", "--dest", str(tmp_path / "c"),
                     "--no-progress"]) == 0
    assert "verified files" in capsys.readouterr().out
    rc = cli.main(["data", "fetch", "fixture-cli", "--dest", str(tmp_path / "d"),
                   "--mirror", "http://127.0.0.1:9/", "--no-progress"])
    assert rc == 2 and "could not download" in capsys.readouterr().err


# ------------------------------------------------------------------ fetch: faulty mirrors
# a small labels file; random labels so that it stays ~1 kB compressed
PAYLOAD = gzip.compress(idx_bytes(np.random.default_rng(3).integers(0, 10, 2000)), mtime=0)
FNAME = "train-labels-idx1-ubyte.gz"
DRIP_INTERVAL = 0.02  # s between bytes: ~1 kB takes ~20 s, far beyond any test deadline


@pytest.fixture
def faulty_mirror():
    """One local server, one fault per path prefix (the mirror's base URL).

    ``ok/`` serves PAYLOAD; ``drip/`` announces its full length and then sends one
    byte per DRIP_INTERVAL until the client goes away; ``stall/`` sends half and then
    nothing until the client goes away; ``truncated/`` announces the
    full length and closes after half; ``close-early/`` sends half without a
    Content-Length (read-to-close); ``html/`` answers 200 with an HTML error page;
    ``wrong/`` sends the right length of wrong bytes; anything else is a 404.
    """
    stop = threading.Event()

    class Faulty(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, body, *, length=None, ctype="application/gzip"):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            if length is not None:
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self):
            mode, _, name = self.path.strip("/").partition("/")
            if name != FNAME:
                self.send_error(404)
                return
            self.close_connection = True
            try:
                if mode == "ok":
                    self.send(PAYLOAD, length=len(PAYLOAD))
                elif mode == "drip":
                    self.send(b"", length=len(PAYLOAD))
                    for byte in PAYLOAD:
                        if stop.wait(DRIP_INTERVAL):
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                elif mode == "stall":
                    self.send(PAYLOAD[: len(PAYLOAD) // 2], length=len(PAYLOAD))
                    stop.wait(30)
                elif mode == "truncated":
                    self.send(PAYLOAD[: len(PAYLOAD) // 2], length=len(PAYLOAD))
                elif mode == "close-early":
                    self.send(PAYLOAD[: len(PAYLOAD) // 2])
                elif mode == "html":
                    self.send(b"<html><body>503 Service Unavailable</body></html>",
                              ctype="text/html; charset=utf-8")
                elif mode == "wrong":
                    self.send(bytes(len(PAYLOAD)), length=len(PAYLOAD))
                else:
                    self.send_error(404)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on us: exactly what the drip tests want

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Faulty)
    # a short poll interval: shutdown() waits for it, once per test
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    stop.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def one_file_entry():
    """A registered one-file dataset, so that each fault is met once, not four times."""
    name = "fixture-faulty"
    data.register(name, files={FNAME: hashlib.sha256(PAYLOAD).hexdigest()}, mirrors=[])
    yield name
    data._REGISTRY.pop(name, None)


def leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name != FNAME)


def test_fetch_deadline_stops_a_dripping_mirror_and_tries_the_next(
        tmp_path, faulty_mirror, one_file_entry, caplog):
    drip, ok = faulty_mirror + "drip/", faulty_mirror + "ok/"
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="satsim.data"):
        dest = data.fetch(one_file_entry, dest=tmp_path / "d", mirrors=[drip, ok],
                          progress=False, timeout=0.5)
    # the deadline (0.5 s), not the per-read timeout (60 s) or the drip (20 s), ended it;
    # generous bound for a loaded CI machine
    assert time.monotonic() - t0 < 5
    assert (dest / FNAME).read_bytes() == PAYLOAD and leftovers(dest) == []
    assert drip + FNAME in caplog.text and "0.5 s deadline" in caplog.text
    assert "trying the next mirror" in caplog.text


def test_fetch_deadline_alone_is_an_error_naming_the_url(tmp_path, faulty_mirror,
                                                          one_file_entry):
    drip = faulty_mirror + "drip/"
    with pytest.raises(DatasetError, match=r"not complete within the 0.3 s deadline") as info:
        data.fetch(one_file_entry, dest=tmp_path / "d", mirrors=[drip], progress=False,
                   timeout=0.3)
    assert drip + FNAME in str(info.value)
    assert os.listdir(tmp_path / "d") == []


def test_fetch_read_timeout_on_a_stalled_mirror(tmp_path, faulty_mirror):
    # the per-read timeout alone (no overall deadline) ends a mirror that goes silent
    target = tmp_path / FNAME
    with pytest.raises(DatasetError, match=rf"stall/{FNAME}: no data for 0.3 s after "
                                           rf"{len(PAYLOAD) // 2} bytes \(read timeout\)"):
        data_fetch._download(faulty_mirror + "stall/" + FNAME, target,
                       hashlib.sha256(PAYLOAD).hexdigest(), False, timeout=None,
                       read_timeout=0.3)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fault, reason", [
    pytest.param("truncated", r"truncated transfer, \d+ of \d+ bytes \(Content-Length\)",
                 id="truncated"),
    pytest.param("close-early", r"SHA-256 [0-9a-f]{64} of \d+ bytes does not match the "
                 r"registered", id="close-early"),
    pytest.param("html", r"does not match the registered [0-9a-f]{64}; the server sent "
                 r"text/html", id="html-200"),
    pytest.param("wrong", r"does not match the registered", id="wrong-bytes"),
    pytest.param("gone", r"HTTP 404", id="404"),
])
def test_fetch_bad_mirror_is_reported_and_the_next_one_tried(
        tmp_path, faulty_mirror, one_file_entry, caplog, fault, reason):
    bad, ok = faulty_mirror + fault + "/", faulty_mirror + "ok/"
    with caplog.at_level(logging.WARNING, logger="satsim.data"):
        dest = data.fetch(one_file_entry, dest=tmp_path / "d", mirrors=[bad, ok],
                          progress=False)
    assert (dest / FNAME).read_bytes() == PAYLOAD and leftovers(dest) == []
    [record] = caplog.records
    assert record.getMessage().startswith(bad + FNAME + ": ")
    assert re.search(reason, record.getMessage())


def test_fetch_every_mirror_failing_is_one_error_listing_each(tmp_path, faulty_mirror,
                                                              one_file_entry):
    faults = ["truncated", "close-early", "html", "wrong", "gone"]
    mirrors = [faulty_mirror + f + "/" for f in faults]
    with pytest.raises(DatasetError) as info:
        data.fetch(one_file_entry, dest=tmp_path / "d", mirrors=mirrors, progress=False)
    msg = str(info.value)
    assert msg.startswith(f"could not download {FNAME} from any of 5 mirror(s): ")
    for m in mirrors:
        assert m + FNAME + ": " in msg
    assert "truncated transfer" in msg and "text/html" in msg and "HTTP 404" in msg
    assert os.listdir(tmp_path / "d") == []  # no bad file kept, no temporary file


def test_fetch_replaces_a_bad_existing_file_only_with_a_verified_one(
        tmp_path, faulty_mirror, one_file_entry):
    dest = tmp_path / "d"
    dest.mkdir()
    (dest / FNAME).write_bytes(b"stale")
    with pytest.raises(DatasetError):
        data.fetch(one_file_entry, dest=dest, mirrors=[faulty_mirror + "wrong/"],
                   progress=False)
    assert (dest / FNAME).read_bytes() == b"stale"  # untouched, not half-overwritten
    data.fetch(one_file_entry, dest=dest, mirrors=[faulty_mirror + "ok/"], progress=False)
    assert (dest / FNAME).read_bytes() == PAYLOAD
    assert (dest / FNAME).stat().st_mode & 0o777 == 0o644


def test_fetch_turns_sigterm_into_keyboardinterrupt_and_restores_the_handler(
        tmp_path, one_file_entry, monkeypatch):
    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def fake_download(url, target, digest, progress, *, timeout):
        handler = signal.getsignal(signal.SIGTERM)
        seen.append(handler)
        handler(signal.SIGTERM, None)  # what the interpreter does when SIGTERM arrives

    monkeypatch.setattr(data_fetch, "_download", fake_download)
    with pytest.raises(KeyboardInterrupt, match="terminated"):
        data.fetch(one_file_entry, dest=tmp_path, mirrors=["http://127.0.0.1:9/"],
                   progress=False)
    assert seen and seen[0] is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_signals_held_while_the_temp_file_is_created_arrive_afterwards():
    # the window between mkstemp and atomic_writer's try/finally: an interrupt there is
    # delivered once the writer is entered (and its cleanup armed), not lost or early
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached = False
    try:
        with pytest.raises(KeyboardInterrupt), data_fetch._signals_held():
            signal.raise_signal(signal.SIGINT)
            reached = True
        assert reached
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_fetch_from_a_worker_thread_leaves_signals_alone(tmp_path, faulty_mirror,
                                                         one_file_entry):
    # signal.signal raises ValueError outside the main thread: fetch must not try
    out = {}

    def work():
        try:
            out["dest"] = data.fetch(one_file_entry, dest=tmp_path / "t",
                                     mirrors=[faulty_mirror + "ok/"], progress=False)
        except BaseException as exc:  # reported below, in the test's thread
            out["error"] = exc

    t = threading.Thread(target=work)
    t.start()
    t.join(10)
    assert "error" not in out, out.get("error")
    assert (out["dest"] / FNAME).read_bytes() == PAYLOAD


# The CLI in a real process: the driver registers a test dataset in-process (the
# registry's entries are fixed for users; no environment backdoor) and then runs
# satsim's CLI exactly as `python -m satsim.cli data fetch ...` would.
DRIVER = """
import signal, sys
from satsim import cli, data
# as in an interactive shell, even if whatever started the tests ignores SIGINT
signal.signal(signal.SIGINT, signal.default_int_handler)
name, fname, digest, *args = sys.argv[1:]
data.register(name, files={fname: digest}, mirrors=[])
sys.exit(cli.main(["data", "fetch", name, *args]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_fetch_interrupted_mid_transfer_cleans_up(tmp_path, faulty_mirror, sig):
    dest = tmp_path / "d"
    dest.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, "fixture-cli-signal", FNAME,
         hashlib.sha256(PAYLOAD).hexdigest(), "--mirror", faulty_mirror + "drip/",
         "--dest", str(dest), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the temporary file appears once the response headers are in: mid-transfer
        deadline = time.monotonic() + 30
        while not os.listdir(dest):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "download never started"
            time.sleep(0.01)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    expected = "satsim: interrupted; terminated" if sig == signal.SIGTERM else "satsim: interrupted"
    assert err.splitlines() == [expected]
    assert os.listdir(dest) == []  # no temporary file, no partial file


def test_build_subset_writes_atomically(tmp_path, monkeypatch):
    write_mnist_dir(tmp_path / "src", n_train=200, n_test=100)
    out = data.build_subset(tmp_path / "src", tmp_path / "out" / "s.npz", train_per_class=2,
                            validation_per_class=1, test_per_class=1)
    train, val, test = data.read_npz(out)
    assert (train[0].shape, val[0].shape, test[0].shape) == ((20, 784), (10, 784), (10, 784))
    assert out.stat().st_mode & 0o777 == 0o644
    assert os.listdir(out.parent) == ["s.npz"]
    before = out.read_bytes()

    def fails_midway(fh, **arrays):
        fh.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data.np, "savez_compressed", fails_midway)
    with pytest.raises(OSError, match="No space left"):
        data.build_subset(tmp_path / "src", out, train_per_class=2, validation_per_class=1,
                          test_per_class=1)
    assert out.read_bytes() == before and os.listdir(out.parent) == ["s.npz"]


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: data.load("cifar"), ValueError, r"`name` must be one of 'mnist', 'fashion-mnist'"),
        (lambda: data.load("mnist", split="random"), ValueError, r"`split` must be one of"),
        (lambda: data.load("mnist", source="bundled"), ValueError, r"only 'fashion-mnist'"),
        (lambda: data.load("mnist", source="/nonexistent/file.csv"), DatasetError, r"not a directory"),
        (lambda: data.register("x", files={"a": "abc"}, mirrors=[]), ValueError, r"SHA-256 hex digest"),
        (lambda: data.read_idx("/nonexistent.idx"), DatasetError, r"file not found"),
        (lambda: data.fetch("mnist", timeout=0), ValueError, r"`timeout` must be > 0; got timeout=0"),
        (lambda: data.fetch("mnist", timeout="9"), TypeError, r"`timeout` must be a real number"),
        (lambda: data.fetch("mnist", timeout=float("inf")), ValueError, r"`timeout` must be a finite"),
        (lambda: data.fetch("mnist", mirrors="http://x/"), TypeError,
         r"`mirrors` must be a sequence of base URLs, not a string; got mirrors='http://x/'"),
        (lambda: data.fetch("mnist", mirrors=[]), ValueError, r"`mirrors` must not be empty"),
        (lambda: data.load("mnist", max_bytes=0), ValueError,
         r"`max_bytes` must be a positive integer; got max_bytes=0"),
        (lambda: data.read_npz("x.npz", max_bytes="1"), TypeError, r"`max_bytes` must be a positive integer"),
        (lambda: data.read_nielsen_pickle("x.pkl.gz", max_bytes=-1), ValueError, r"`max_bytes` must be"),
    ],
)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_review_regressions_npz(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with pytest.raises(DatasetError, match=r"not a readable \.npz"):
        data.read_npz(tmp_path / "a.npz")
    (tmp_path / "t.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match=r"not a readable \.npz"):
        data.read_npz(tmp_path / "t.npz")
    np.savez(tmp_path / "v.npz", x_train=np.zeros((2, 784)), y_train=[0, 1],
             x_test=np.zeros((1, 784)), y_test=[0], x_val=np.zeros((1, 784)))
    with pytest.raises(DatasetError, match="x_val and y_val must come together"):
        data.read_npz(tmp_path / "v.npz")
