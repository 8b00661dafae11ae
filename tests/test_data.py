"""Tests for satsim.data: IDX/pickle/npz readers, search, bundled subset, fetch over HTTP."""

import gzip
import hashlib
import http.server
import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from satsim import cli, data
from satsim.data import DatasetError


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
    arrays = write_mnist_dir(tmp_path / "mnist", n_train=30)
    ds = data.load("mnist", source=tmp_path / "mnist", split="standard")
    X, y = ds.train
    assert X.shape == (30, 784) and X.dtype == np.float64 and X.min() >= 0 and X.max() <= 1
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte.gz"])
    assert ds.validation is None and "IDX files in" in ds.source
    monkeypatch.setenv("SATSIM_DATA", str(tmp_path))
    found = data.load("mnist", split="standard")
    assert str(tmp_path / "mnist") in found.source
    with pytest.raises(DatasetError, match="needs the full training file"):
        data.load("mnist")  # Nielsen's split needs 60 000 training images


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
    assert not any(p.name.endswith(".part") for p in (tmp_path / "dl2").iterdir())


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


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: data.load("cifar"), ValueError, r"`name` must be one of 'mnist', 'fashion-mnist'"),
        (lambda: data.load("mnist", split="random"), ValueError, r"`split` must be one of"),
        (lambda: data.load("mnist", source="bundled"), ValueError, r"only 'fashion-mnist'"),
        (lambda: data.load("mnist", source="/nonexistent/file.csv"), DatasetError, r"not a directory"),
        (lambda: data.register("x", files={"a": "abc"}, mirrors=[]), ValueError, r"SHA-256 hex digest"),
        (lambda: data.read_idx("/nonexistent.idx"), DatasetError, r"file not found"),
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
