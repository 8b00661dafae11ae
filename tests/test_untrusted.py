"""Untrusted files never exhaust memory and always fail with a clear error (issue 12 §4).

Every crafted file is written by the test.  The cases that used to allocate
gigabytes run in one subprocess under an address-space cap (``RLIMIT_AS`` set to
what the interpreter already has mapped plus ``BUDGET_MIB``): a reader that still
allocated what the file asks for would die there with a MemoryError instead of the
expected error.  The subprocess also reports each case's peak resident memory above
its starting point (``VmHWM``, reset per case through ``/proc/self/clear_refs``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from satsim import data
from satsim.data import DatasetError
from satsim.nn import Network
from satsim.nn import io as nnio

MiB = 1 << 20
BUDGET_MIB = 192  # address space a case may add; every old failure asked for far more
ZEROS_16M = bytes(16 * MiB)
GZ_ZEROS_16M = gzip.compress(ZEROS_16M, compresslevel=9, mtime=0)  # ~16 kB


def idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)


def gzip_bomb(prefix: bytes, gib: float) -> bytes:
    """``prefix`` then ``gib`` GiB of zeros, as concatenated gzip members (~1 MB/GiB)."""
    return gzip.compress(prefix, mtime=0) + GZ_ZEROS_16M * int(gib * 64)


def deflated_zeros(n_chunks: int) -> bytes:
    """A raw deflate stream of ``n_chunks`` × 16 MiB of zeros, built in milliseconds:
    one fully flushed block repeated, then an empty final block."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(ZEROS_16M) + c.flush(zlib.Z_FULL_FLUSH)
    return block * n_chunks + zlib.compressobj(9, zlib.DEFLATED, -15).flush()


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip of ``(name, stored bytes, method, uncompressed size, crc)`` members,
    written by hand so that a member can hold pre-compressed data."""
    out, central = bytearray(), bytearray()
    for name, payload, method, size, crc in members:
        fname = name.encode()
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21,
                               crc, len(payload), size, len(fname), 0, 0, 0, 0, 0, len(out))
        central += fname
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc,
                           len(payload), size, len(fname), 0) + fname + payload
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def npy_header(descr, shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


def stored(name: str, payload: bytes) -> tuple[str, bytes, int, int, int]:
    return name, payload, 0, len(payload), zlib.crc32(payload)


def big_npy_member(name: str, gib: int) -> tuple[str, bytes, int, int, int]:
    """A deflated ``.npy`` member of ``gib`` GiB of uint8 zeros, about 1 MB in the file."""
    header = npy_header("|u1", (gib << 30,))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(header)
    for _ in range(gib * 64):
        crc = zlib.crc32(ZEROS_16M, crc)
    return name, head + deflated_zeros(gib * 64), 8, len(header) + (gib << 30), crc


def network_members(net: Network) -> list[tuple[str, bytes, int, int, int]]:
    meta = {"format": "satsim.nn", "format_version": 1, "sizes": net.sizes,
            "activation": net.activation.name, "activation_params": {},
            "output": net.output.name, "cost": net.cost.name, "init": net.init.name,
            "bias_init": None, "dtype": net.dtype.name}
    members = [stored("metadata.npy", npy_bytes(np.array(json.dumps(meta))))]
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        members += [stored(f"W{i}.npy", npy_bytes(W)), stored(f"b{i}.npy", npy_bytes(b))]
    return members


def gz_pickle(path: Path, body: bytes) -> Path:
    path.write_bytes(gzip.compress(body, mtime=0))
    return path


# ------------------------------------------------------------------ the capped cases
HARNESS = r"""
import json, resource, sys, traceback
from satsim import data
from satsim.nn import io as nnio

def status():
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmSize", "VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) * 1024
    return out

CALLS = {"read_idx": data.read_idx, "read_nielsen_pickle": data.read_nielsen_pickle,
         "read_npz": data.read_npz, "nn_load": nnio.load}
budget = int(sys.argv[1]) << 20
_, hard = resource.getrlimit(resource.RLIMIT_AS)
results = {}
for case in json.loads(sys.stdin.read()):
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, hard))
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        resettable = True
    except OSError:
        resettable = False
    before = status()
    resource.setrlimit(resource.RLIMIT_AS, (before["VmSize"] + budget, hard))
    try:
        CALLS[case["call"]](case["path"], **case["kwargs"])
        out = {"type": None, "message": ""}
    except BaseException as exc:
        out = {"type": type(exc).__name__, "message": str(exc)}
        if not isinstance(exc, (ValueError, TypeError)):
            out["traceback"] = traceback.format_exc()
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, hard))
    after = status()
    out["peak_mib"] = (after["VmHWM"] - before["VmRSS"]) / 2**20 if resettable else None
    results[case["id"]] = out
print(json.dumps(results))
"""


def _cases(tmp: Path) -> list[dict]:
    cases = []

    def case(id_, call, path, **kwargs):
        cases.append({"id": id_, "call": call, "path": str(path), "kwargs": kwargs})

    # Pickles.  numpy.ndarray((4e8,), 'O') through REDUCE: 3.2 GB in 45 bytes
    body = (b"\x80\x02cnumpy\nndarray\n" + b"J" + struct.pack("<i", 400_000_000)
            + b"\x85X\x01\x00\x00\x00O\x86R.")
    assert len(body) <= 64
    case("pickle_ndarray_call", "read_nielsen_pickle", gz_pickle(tmp / "nd.pkl.gz", body))
    # numpy's _reconstruct asked for the same shape directly
    body = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
            + b"J" + struct.pack("<i", 400_000_000) + b"\x85C\x01O\x87R.")
    case("pickle_reconstruct", "read_nielsen_pickle", gz_pickle(tmp / "rc.pkl.gz", body))
    # a well-formed array whose state claims shape (1e12, 784) with no data
    head = pickle.dumps(np.zeros(0, np.float32), protocol=2)
    state = (b"(K\x01(\x8a\x06" + (10**12).to_bytes(6, "little") + b"M\x10\x03t"
             + b"cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R"
             + b"(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
             + b"\x89C\x00tb.")
    # replace the zero-length array's BUILD state by the crafted one
    body = head[: head.index(b"(K\x01")] + state
    case("pickle_state_1e12", "read_nielsen_pickle", gz_pickle(tmp / "st.pkl.gz", body))
    # LONG_BINPUT 0xFFFFFFF0: the C unpickler sizes its memo from the index (64 GiB)
    body = b"\x80\x02Nr" + (0xFFFFFFF0).to_bytes(4, "little") + b"."
    case("pickle_memo_index", "read_nielsen_pickle", gz_pickle(tmp / "memo.pkl.gz", body))
    # 4 million empty dicts from a 4 MB stream (~300 MB of objects)
    body = b"\x80\x02(" + b"}" * 4_000_000 + b"l."
    case("pickle_op_flood", "read_nielsen_pickle", gz_pickle(tmp / "flood.pkl.gz", body))
    # 256 MiB of byte strings from ~260 kB of gzip, read with max_bytes=16 MiB
    chunk = gzip.compress(b"B" + struct.pack("<I", 8 * MiB) + bytes(8 * MiB), mtime=0)
    (tmp / "stream.pkl.gz").write_bytes(gzip.compress(b"\x80\x04(", mtime=0) + chunk * 32)
    case("pickle_stream_cap", "read_nielsen_pickle", tmp / "stream.pkl.gz", max_bytes=16 * MiB)
    # one BINBYTES8 announcing a terabyte
    body = b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40) + b"."
    case("pickle_binbytes8", "read_nielsen_pickle", gz_pickle(tmp / "b8.pkl.gz", body))

    # IDX.  1.5 GiB of zeros after a valid MNIST header, in a 1.5 MB gzip
    (tmp / "bomb-idx.gz").write_bytes(gzip_bomb(idx_header(0x08, (60000, 28, 28)), 1.5))
    case("idx_gzip_bomb", "read_idx", tmp / "bomb-idx.gz")
    # and after a header declaring 65536**4 bytes
    (tmp / "huge-idx.gz").write_bytes(gzip_bomb(idx_header(0x08, (65536,) * 4), 1.5))
    case("idx_huge_header", "read_idx", tmp / "huge-idx.gz")

    # npz.  A network file (~1 MB) with a 1 GiB extra member
    net = Network([4, 3, 2], rng=0)
    junk = big_npy_member("junk.npy", 1)
    write_zip(tmp / "net-extra.npz", [*network_members(net), junk])
    case("npz_network_extra", "nn_load", tmp / "net-extra.npz")
    # ... and a dataset .npz with the same member: read_npz does not touch it
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (8, 784), dtype=np.uint8),
              "y_train": np.arange(8) % 10,
              "x_test": rng.integers(0, 256, (4, 784), dtype=np.uint8), "y_test": np.arange(4)}
    write_zip(tmp / "data-extra.npz",
              [*(stored(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()), junk])
    case("npz_data_extra", "read_npz", tmp / "data-extra.npz")
    # x_train's header claims (1e12, 784) uint8 (784 GB); the member holds 16 bytes
    members = [stored(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items() if k != "x_train"]
    members.append(stored("x_train.npy", npy_header("|u1", (10**12, 784)) + bytes(16)))
    write_zip(tmp / "data-1e12.npz", members)
    case("npz_data_1e12", "read_npz", tmp / "data-1e12.npz")
    # a network whose W0 header claims (1e12, 784) float64
    members = [m for m in network_members(net) if m[0] != "W0.npy"]
    members.append(stored("W0.npy", npy_header("<f8", (10**12, 784)) + bytes(16)))
    write_zip(tmp / "net-1e12.npz", members)
    case("npz_network_1e12", "nn_load", tmp / "net-1e12.npz")
    # a network whose metadata sizes ask Network() for 10**12 x 784 zeros
    members = network_members(net)
    meta = json.loads(str(np.load(tmp / "net-extra.npz")["metadata"]))
    meta["sizes"] = [784, 10**12]
    members[0] = stored("metadata.npy", npy_bytes(np.array(json.dumps(meta))))
    write_zip(tmp / "net-sizes.npz", members)
    case("npz_network_sizes", "nn_load", tmp / "net-sizes.npz")
    return cases


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    """Run every capped case in one subprocess (one interpreter start for all)."""
    if not Path("/proc/self/status").is_file():
        pytest.skip("the memory measurements read Linux's /proc/self/status")
    tmp = tmp_path_factory.mktemp("untrusted")
    cases = _cases(tmp)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", HARNESS, str(BUDGET_MIB)],
                          input=json.dumps(cases), capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    for key, out in results.items():
        # the measured numbers, for the record (pytest -s shows them)
        print(f"{key}: {out['type']} peak={out['peak_mib']} MiB")
    return results


def check(capped, key, exc_type, *fragments, peak_mib=32.0):
    out = capped[key]
    assert out["type"] == exc_type, out
    for fragment in fragments:
        assert fragment in out["message"], (fragment, out["message"])
    if out["peak_mib"] is not None:
        assert out["peak_mib"] < peak_mib, out


def test_pickle_calling_ndarray_is_refused(capped):
    check(capped, "pickle_ndarray_call", "DatasetError", "nd.pkl.gz",
          "refusing to call numpy.ndarray")


def test_pickle_reconstruct_with_a_shape_is_refused(capped):
    check(capped, "pickle_reconstruct", "DatasetError", "rc.pkl.gz", "refusing _reconstruct")


def test_pickle_array_state_beyond_the_limit(capped):
    check(capped, "pickle_state_1e12", "DatasetError", "st.pkl.gz",
          "shape (1000000000000, 784) of float32", "max_bytes=268435456")


def test_pickle_huge_memo_index_is_harmless(capped):
    check(capped, "pickle_memo_index", "DatasetError", "memo.pkl.gz",
          "expected a (train, validation, test) tuple", "got a NoneType")


def test_pickle_opcode_flood_is_stopped(capped):
    check(capped, "pickle_op_flood", "DatasetError", "flood.pkl.gz",
          f"more than {data.MAX_PICKLE_OPS} pickle opcodes")


def test_pickle_stream_is_capped_while_decompressing(capped):
    # max_bytes=16 MiB: reading stops at twice that, not at 256 MiB
    check(capped, "pickle_stream_cap", "DatasetError", "stream.pkl.gz",
          "more than twice the max_bytes=16777216 limit", peak_mib=64.0)


def test_pickle_length_field_beyond_the_limit(capped):
    check(capped, "pickle_binbytes8", "DatasetError", "b8.pkl.gz", "max_bytes=268435456")


def test_idx_gzip_bomb_stops_at_the_declared_size(capped):
    # the header's 47 MB are read (that is the legitimate payload), not the 1.5 GiB
    check(capped, "idx_gzip_bomb", "DatasetError", "bomb-idx.gz",
          "payload is longer than the 47040000 bytes its header (60000, 28, 28) declares",
          peak_mib=64.0)


def test_idx_huge_header_is_refused_before_decompressing(capped):
    check(capped, "idx_huge_header", "DatasetError", "huge-idx.gz",
          "(65536, 65536, 65536, 65536) of uint8, 18446744073709551616 bytes",
          "max_bytes=268435456")


def test_network_file_with_a_huge_extra_member(capped):
    check(capped, "npz_network_extra", "ValueError", "net-extra.npz",
          "unexpected entries ['junk']")


def test_dataset_npz_skips_extra_members_unread(capped):
    check(capped, "npz_data_extra", None)


def test_npz_header_beyond_the_limit(capped):
    check(capped, "npz_data_1e12", "DatasetError", "data-1e12.npz",
          "'x_train' declares shape (1000000000000, 784) of uint8",
          "max_bytes=268435456", "pass a larger max_bytes")
    # the network's headers are compared with its metadata before any budget is spent
    check(capped, "npz_network_1e12", "ValueError", "net-1e12.npz",
          "'W0' stores 16 data bytes but its header (shape (1000000000000, 784), dtype "
          "float64) declares 6272000000000000")


def test_network_sizes_beyond_the_limit(capped):
    check(capped, "npz_network_sizes", "ValueError", "net-sizes.npz",
          "need 6280000000000000 bytes of float64 parameters", "max_bytes=268435456")


# ------------------------------------------------------------------ small, in process
def test_pickle_of_a_plain_tuple_is_a_clear_error(tmp_path):
    p = gz_pickle(tmp_path / "t.pkl.gz", pickle.dumps((1, 2, 3)))
    with pytest.raises(DatasetError, match=r"the train part must be an \(images, labels\) "
                                           r"pair of NumPy arrays; got a int") as info:
        data.read_nielsen_pickle(p)
    assert "t.pkl.gz" in str(info.value)


@pytest.mark.parametrize("obj, match", [
    ([1, 2], r"expected a \(train, validation, test\) tuple .*; got a list of 2"),
    (((np.zeros((2, 784)), [0, 1]),) * 3, r"train part .* got a tuple of 2 holding an array, a list"),
    ({"a": 1}, r"got a dict"),
])
def test_pickle_structure_errors(tmp_path, obj, match):
    with pytest.raises(DatasetError, match=match):
        data.read_nielsen_pickle(gz_pickle(tmp_path / "s.pkl.gz", pickle.dumps(obj)))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickles_of_arrays_load_in_every_protocol(tmp_path, protocol):
    rng = np.random.default_rng(4)
    X = rng.random((6, 784)).astype(np.float32)
    parts = ((X, np.arange(6) % 10), (np.asfortranarray(X[:2]), np.array([1, 2], ">i8")),
             (X[:3].astype(">f8"), np.arange(3, dtype=np.int32)))
    p = gz_pickle(tmp_path / "ok.pkl.gz", pickle.dumps(parts, protocol=protocol))
    train, val, test = data.read_nielsen_pickle(p)
    np.testing.assert_array_equal(train[0], X)
    np.testing.assert_array_equal(val[0], X[:2])
    np.testing.assert_array_equal(val[1], [1, 2])
    np.testing.assert_array_equal(test[0], X[:3])
    assert train[0].flags.writeable and test[1].dtype == np.int64


@pytest.mark.parametrize("body, match", [
    (b"\x80\x02cnumpy\ndtype\nX\x01\x00\x00\x00O\x89\x88\x87R.", r"refusing dtype 'O'"),
    (b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00V8\x89\x88\x87R.", r"refusing dtype 'V8'"),
    (b"\x80\x02cnumpy\ndtype\n(X\x01\x00\x00\x00xtb.", r"refusing to set state on numpy.dtype"),
    (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R.",
     r"refusing _codecs.encode"),
    (b"\x80\x02cbuiltins\neval\n.", r"refusing to load builtins.eval"),
    (b"\x80\x02cnumpy\nndarray\n)\x81.", r"opcode b'\\x81' is not accepted"),
    (b"\x80\x02(", r"not a readable mnist.pkl.gz \(EOFError"),
    (b"\x80\x02N", r"not a readable mnist.pkl.gz \(EOFError"),
    (b"\x80\x02a.", r"not a readable mnist.pkl.gz \(IndexError"),
    (b"\x80\x02K\x01)R.", r"not a readable mnist.pkl.gz \(TypeError"),
])
def test_pickle_reader_refuses_with_a_clear_error(tmp_path, body, match):
    with pytest.raises(DatasetError, match=match) as info:
        data.read_nielsen_pickle(gz_pickle(tmp_path / "x.pkl.gz", body))
    assert "x.pkl.gz" in str(info.value)


def test_pickle_reader_does_not_let_build_touch_its_callables(tmp_path):
    # BUILD on a callable would set attributes on a function object for the process
    body = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\n}X\x01\x00\x00\x00aK\x01sb."
    with pytest.raises(DatasetError, match="refusing to set state"):
        data.read_nielsen_pickle(gz_pickle(tmp_path / "b.pkl.gz", body))


def test_idx_dims_overflowing_int64_name_the_file(tmp_path):
    p = tmp_path / "dims.idx"
    p.write_bytes(idx_header(0x08, (65536,) * 4) + bytes(64))
    with pytest.raises(DatasetError) as info:
        data.read_idx(p)
    msg = str(info.value)
    assert "dims.idx" in msg and "18446744073709551616 bytes" in msg and "-" not in msg.split(":")[-1]


# a gzip member whose first deflate block has the reserved block type 3
INVALID_DEFLATE = bytes(b | 0x06 if i == 10 else b for i, b in
                        enumerate(gzip.compress(idx_header(0x08, (4, 4)) + bytes(16), mtime=0)))


@pytest.mark.parametrize("payload, match", [
    (INVALID_DEFLATE, "corrupt or truncated gzip data"),
    (gzip.compress(idx_header(0x08, (4, 4)) + bytes(16), mtime=0) + b"garbage!",
     "corrupt or truncated gzip data"),
    (gzip.compress(idx_header(0x08, (4, 4)) + bytes(10), mtime=0),
     r"payload has 10 bytes, header \(4, 4\) needs 16"),
    (idx_header(0x08, (4, 4)) + bytes(17), r"payload has 17 bytes, header \(4, 4\) needs 16"),
    (idx_header(0x0D, (1000, 1000)), r"payload has 0 bytes, header \(1000, 1000\) needs 4000000"),
])
def test_idx_corruption_is_a_clear_error(tmp_path, payload, match):
    p = tmp_path / "c.idx.gz"
    p.write_bytes(payload)
    with pytest.raises(DatasetError, match=match) as info:
        data.read_idx(p)
    assert "c.idx.gz" in str(info.value)


def test_idx_max_bytes_keyword(tmp_path):
    p = tmp_path / "m.idx"
    p.write_bytes(idx_header(0x08, (100, 28, 28)) + bytes(78400))
    with pytest.raises(DatasetError, match=r"78400 bytes, more than the max_bytes=78399 limit"):
        data.read_idx(p, max_bytes=78399)
    assert data.read_idx(p, max_bytes=78400).shape == (100, 28, 28)
    for bad, exc in ((0, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(exc, match=r"`max_bytes` must be a positive integer"):
            data.read_idx(p, max_bytes=bad)


@pytest.mark.parametrize("member, match", [
    (stored("x_train.npy", npy_header("|O", (2, 784)) + bytes(16 * 784)), "holds Python objects"),
    (stored("x_train.npy", npy_header([("a", "<f8")], (2,)) + bytes(16)), "only booleans, numbers"),
    (stored("x_train.npy", npy_header("<f8", (2, 784)) + bytes(8)), r"stores 8 data bytes .* declares 12544"),
    (stored("x_train.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': 5}   \n"), "bad .npy header"),
    (("x_train.npy", bytes(40), 12, 40, 0), "compression method 12"),
])
def test_npz_members_are_checked_before_reading(tmp_path, member, match):
    members = [stored(f"{k}.npy", npy_bytes(v)) for k, v in
               {"y_train": np.arange(2), "x_test": np.zeros((1, 784)), "y_test": [0]}.items()]
    write_zip(tmp_path / "m.npz", [*members, member])
    with pytest.raises(DatasetError, match=match) as info:
        data.read_npz(tmp_path / "m.npz")
    assert "m.npz" in str(info.value)


def test_npz_duplicate_and_central_directory_limits(tmp_path):
    one = stored("x.npy", npy_bytes(np.zeros(1)))
    write_zip(tmp_path / "dup.npz", [one, one])
    with pytest.raises(DatasetError, match="'x' appears more than once"):
        data.read_npz(tmp_path / "dup.npz")
    # an end record claiming a 2 MiB central directory: refused before zipfile reads it
    body = b"PK\x03\x04" + bytes(2 * MiB + 100)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 2 * MiB, 0, 0)
    (tmp_path / "cd.npz").write_bytes(body + end)
    with pytest.raises(DatasetError, match=r"asks to read \d+ bytes at once"):
        data.read_npz(tmp_path / "cd.npz")


# ------------------------------------------------------------------ network metadata
def _network_file(tmp_path: Path, edit) -> Path:
    net = Network([4, 3, 2], rng=0)
    p = tmp_path / "net.npz"
    net.save(p)
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["metadata"]))
    edited = edit(meta)
    arrays["metadata"] = np.array(edited if isinstance(edited, str) else json.dumps(meta))
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(dtype="foo"), r"metadata dtype 'foo' is not one of 'float32', 'float64'"),
    (lambda m: m.update(dtype="<U10"), r"metadata dtype '<U10' is not one of"),
    (lambda m: m.update(dtype=["float64"]), r"metadata dtype \['float64'\] is not one of"),
    (lambda m: m.update(sizes=[4, True]), r"bad 'sizes' in metadata"),
    (lambda m: m.update(activation=["x"]), r"metadata 'activation' must be a name"),
    (lambda m: m.update(activation_params={"alpha": [[1]]}), r"'activation_params' must map"),
    (lambda m: m.update(extra=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
     r"nested more than 32 levels deep"),
    (lambda m: '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", r"nested more than 32 levels deep"),
    (lambda m: '{"sizes": [' + "9" * 5000 + "]}", r"metadata is not valid JSON"),
])
def test_network_metadata_is_validated(tmp_path, edit, match):
    p = _network_file(tmp_path, edit)
    with pytest.raises(ValueError, match=match) as info:
        nnio.load(p)
    assert str(p) in str(info.value) and type(info.value) is ValueError


def test_network_max_bytes_keyword(tmp_path):
    net = Network([4, 3, 2], rng=0)
    net.save(tmp_path / "n.npz")
    need = (5 * 3 + 4 * 2) * 8
    with pytest.raises(ValueError, match=rf"need {need} bytes .* max_bytes={need - 1} limit"):
        nnio.load(tmp_path / "n.npz", max_bytes=need - 1)
    back = nnio.load(tmp_path / "n.npz", max_bytes=need)
    np.testing.assert_array_equal(back.weights[1], net.weights[1])
    with pytest.raises(ValueError, match=r"`max_bytes` must be a positive integer"):
        nnio.load(tmp_path / "n.npz", max_bytes=0)


def test_network_metadata_too_large(tmp_path):
    p = _network_file(tmp_path, lambda m: m.update(note="x" * 300_000))
    with pytest.raises(ValueError, match=r"'metadata' is 12\d{5} bytes, more than the "
                                         r"1048576-byte limit"):
        nnio.load(p)


# ------------------------------------------------------------------ verification on load
def _write_idx_dir(d: Path, labels_value: int | None = None, n: int = 40, seed: int = 5):
    rng = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    for fname, k in zip(data.FILES, (n, n, n // 2, n // 2), strict=True):
        if "images" in fname:
            arr = rng.integers(0, 256, (k, 28, 28), dtype=np.uint8)
        else:
            arr = (np.full(k, labels_value, np.uint8) if labels_value is not None
                   else rng.integers(0, 10, k).astype(np.uint8))
        (d / fname).write_bytes(gzip.compress(idx_header(0x08, arr.shape) + arr.tobytes(),
                                              mtime=0))


def test_poisoned_mnist_cache_is_refused(tmp_path, monkeypatch):
    # random images, every label 7, where satsim's cache keeps MNIST
    monkeypatch.delenv("SATSIM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = tmp_path / "cache" / "satsim" / "mnist"
    _write_idx_dir(cache, labels_value=7)
    with pytest.raises(DatasetError, match=r"cannot verify this mnist file: it is not the "
                                           r"registered \.gz file") as info:
        data.load("mnist", split="standard")
    assert str(cache / data.FILES[0]) in str(info.value)
    assert "verify=False" in str(info.value)
    # asked for explicitly, it loads, and says it was not verified
    ds = data.load("mnist", split="standard", verify=False)
    assert "not verified" in ds.source and set(ds.train[1]) == {7}


def test_poisoned_fashion_cache_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SATSIM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _write_idx_dir(tmp_path / "cache" / "satsim" / "fashion-mnist", labels_value=7)
    with pytest.raises(DatasetError, match="content SHA-256 does not match the registered "
                                           "fashion-mnist file"):
        data.load("fashion-mnist", split="standard")


def test_canonical_files_verify_by_their_gz_checksum(tmp_path):
    d = tmp_path / "canon"
    _write_idx_dir(d)
    sums = {f: hashlib.sha256((d / f).read_bytes()).hexdigest() for f in data.FILES}
    data.register("fixture-verified", files=sums, mirrors=[])
    try:
        ds = data.load("fixture-verified", source=d, split="standard")
        assert ds.source.endswith("(SHA-256 verified)")
        # one byte changed in the labels' .gz: no longer the registered file
        p = d / data.FILES[1]
        raw = gzip.decompress(p.read_bytes())
        p.write_bytes(gzip.compress(raw[:-1] + bytes([(raw[-1] + 1) % 10]), mtime=0))
        with pytest.raises(DatasetError, match=r"train-labels-idx1-ubyte.gz.*cannot verify"):
            data.load("fixture-verified", source=d, split="standard")
    finally:
        data._REGISTRY.pop("fixture-verified", None)


def test_npz_and_pickle_sources_say_they_are_not_verified(tmp_path):
    rng = np.random.default_rng(6)
    np.savez(tmp_path / "m.npz", x_train=rng.integers(0, 256, (4, 784), dtype=np.uint8),
             y_train=np.arange(4), x_test=rng.integers(0, 256, (2, 784), dtype=np.uint8),
             y_test=np.arange(2))
    assert "not verified" in data.load("mnist", source=tmp_path / "m.npz").source


def py2_array_pickle(array: np.ndarray) -> bytes:
    """One array pickled the way Python 2's cPickle wrote Nielsen's file: protocol 2,
    ``str`` (SHORT_BINSTRING/BINSTRING) for the type code, byte order and data, and
    integer align/copy flags."""
    def string(b: bytes) -> bytes:
        return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<i", len(b))) + b

    shape = b"(" + b"".join(b"J" + struct.pack("<i", d) for d in array.shape) + b"t"
    dtype = (b"cnumpy\ndtype\n" + string(array.dtype.str[1:].encode()) + b"K\x00K\x01\x87R"
             + b"(K\x03" + string(array.dtype.str[:1].encode())
             + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + string(b"b")
            + b"\x87R(K\x01" + shape + dtype + b"\x89" + string(array.tobytes()) + b"tb")


def test_python2_pickle_like_nielsens_loads(tmp_path):
    rng = np.random.default_rng(7)
    X = [rng.random((n, 784)).astype(np.float32) for n in (5, 2, 3)]
    y = [rng.integers(0, 10, n) for n in (5, 2, 3)]
    body = (b"\x80\x02(" + b"".join(b"(" + py2_array_pickle(a) + py2_array_pickle(b) + b"t"
                                    for a, b in zip(X, y, strict=True)) + b"t.")
    train, val, test = data.read_nielsen_pickle(gz_pickle(tmp_path / "py2.pkl.gz", body))
    for (Xg, yg), Xe, ye in zip((train, val, test), X, y, strict=True):
        np.testing.assert_array_equal(Xg, Xe)
        np.testing.assert_array_equal(yg, ye)


def _small_files(tmp_path: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(8)
    X, y = rng.random((3, 784)).astype(np.float32), np.arange(3)
    buf = io.BytesIO()
    np.savez(buf, x_train=(X * 255).astype(np.uint8), y_train=y, x_test=X, y_test=y)
    return {
        # pickles are damaged before compression, so that the unpickler meets the damage
        "p.pkl.gz": pickle.dumps(((X, y),) * 3, protocol=2),
        "p5.pkl.gz": pickle.dumps(((X, y),) * 3, protocol=5),
        "z.pkl.gz": gzip.compress(pickle.dumps(((X, y),) * 3, protocol=4), mtime=0),
        "i.idx.gz": gzip.compress(idx_header(0x08, (3, 28, 28)) + bytes(2352), mtime=0),
        "i.idx": idx_header(0x0C, (3, 5)) + bytes(60),
        "n.npz": buf.getvalue(),
    }


READERS = {".pkl.gz": data.read_nielsen_pickle, ".idx.gz": data.read_idx,
           ".idx": data.read_idx, ".npz": data.read_npz}


def test_damaged_files_only_ever_raise_dataset_error(tmp_path):
    # 1-3 random bytes overwritten, or the file cut short: the reader loads or raises
    # its documented error, never anything else (seeded: the same 720 files every run)
    rng = np.random.default_rng(9)
    for name, good in _small_files(tmp_path).items():
        reader = READERS[next(k for k in READERS if name.endswith(k))]
        for trial in range(120):
            bad = bytearray(good)
            if trial % 4 == 0:
                bad = bad[: rng.integers(0, len(bad))]
            else:
                for _ in range(rng.integers(1, 4)):
                    bad[rng.integers(0, len(bad))] = rng.integers(0, 256)
            p = tmp_path / name
            p.write_bytes(gzip.compress(bytes(bad), mtime=0) if name.startswith("p")
                          else bytes(bad))
            try:
                reader(p)
            except DatasetError as exc:
                assert name in str(exc)


def test_network_metadata_member_declaring_gigabytes(tmp_path):
    net = Network([4, 3, 2], rng=0)
    members = network_members(net)
    members[0] = stored("metadata.npy", npy_header("<U100000000", ()) + bytes(8))
    write_zip(tmp_path / "m.npz", members)
    # refused from its header (400 MB declared, 8 bytes stored), before any allocation
    with pytest.raises(ValueError, match=r"m.npz.*member 'metadata' stores 8 data bytes but "
                                         r"its header .* declares 400000000"):
        nnio.load(tmp_path / "m.npz")
