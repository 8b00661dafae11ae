"""satsim.torch.load_weights on hostile files (issue 20 §6, red team): a compressed
archive that expands to gigabytes is refused before it is read, and safetensors errors
are the promised ValueError."""

import zipfile

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import satsim.torch as st  # noqa: E402


def _deflate(src, dst):
    """Rewrite a torch zip archive with every entry deflated (torch reads it back)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))


def test_compressed_archive_that_expands_beyond_the_limit_is_refused(tmp_path, monkeypatch):
    # 4 MiB of zeros deflate to a few KiB; with the limit lowered to 1 MiB this is the
    # red team's 2.9 MB file that held 3.25 GB, at a size a test can afford
    plain, packed = tmp_path / "plain.pt", tmp_path / "packed.pt"
    torch.save({"weight": torch.zeros(2**20), "bias": torch.zeros(3)}, plain)
    _deflate(plain, packed)
    assert packed.stat().st_size < 64 * 2**10
    assert torch.load(packed, weights_only=True)["weight"].numel() == 2**20  # readable
    monkeypatch.setattr(st, "_MAX_WEIGHT_BYTES", 2**20)
    calls = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(1) or real(*a, **k))
    with pytest.raises(ValueError, match=r"would expand to 4 MiB in memory, above the "
                                         r"limit of 1 MiB") as info:
        st.load_weights(nn.Linear(4, 3), packed)
    assert "\n" not in str(info.value) and not calls  # refused before torch.load ran


def test_the_limit_grows_with_the_module(tmp_path, monkeypatch):
    # a module of 4 MiB of parameters may load its own 4 MiB file under a 1 MiB limit
    monkeypatch.setattr(st, "_MAX_WEIGHT_BYTES", 2**20)
    net = nn.Linear(1024, 1024, bias=False)
    path = tmp_path / "own.pt"
    torch.save(net.state_dict(), path)
    dst = st.load_weights(nn.Linear(1024, 1024, bias=False), path)
    assert torch.equal(dst.weight, net.weight)


def test_corrupt_safetensors_is_a_value_error(tmp_path):
    pytest.importorskip("safetensors.torch")
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\xff" * 8 + b"{not json")
    with pytest.raises(ValueError, match="is not a readable safetensors file") as info:
        st.load_weights(nn.Linear(4, 3), path)
    assert "\n" not in str(info.value)
