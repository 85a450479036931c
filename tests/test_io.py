"""save and load: a round trip gives identical parameters and predictions in each dtype; save
is atomic (a temporary file beside the target, then os.replace; nothing left behind, an old
file intact when writing fails); load never unpickles; every file that is not a fastprop
network (truncated, corrupt, empty, text, foreign, with an inconsistent field, claiming
enormous layers) is a ValueError naming the path, read within bounds."""
import io
import os
import stat
import zipfile

import numpy as np
import pytest

import fastprop as fp
import fastprop.io as fp_io

CASES = [([3, 5, 2], "tanh", "identity", "mse"),
         ([4, 8, 8, 3], "relu", "softmax", "cross_entropy"),
         ([2, 6, 1], "leaky_relu", "sigmoid", "binary_cross_entropy"),
         ([5, 1], "identity", "linear", "mse")]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("sizes,hidden,output,loss", CASES,
                         ids=["mse", "softmax-ce", "sigmoid-bce", "single-layer"])
def test_round_trip_gives_identical_params_and_predictions(tmp_path, dtype, sizes, hidden, output,
                                                           loss):
    net = fp.mlp(sizes, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=3)
    rng = np.random.default_rng(0)
    net.params[...] = rng.normal(size=net.n_params)     # non-zero biases too
    path = tmp_path / "model.npz"
    net.save(path)
    back = fp.load(path)
    assert back.dtype == net.dtype
    assert back.params.tobytes() == net.params.tobytes()
    assert [(l.n_in, l.n_out, l.activation) for l in back.layers] == \
           [(l.n_in, l.n_out, l.activation) for l in net.layers]
    assert back.loss_name == net.loss_name
    X = rng.normal(size=(7, sizes[0]))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
    # the loaded layers are views of the loaded params
    back.layers[0].b[0] += 1.0
    assert back.params[sizes[0] * sizes[1]] == net.params[sizes[0] * sizes[1]] + 1.0


def test_save_accepts_str_and_pathlike_and_module_function(tmp_path):
    net = fp.mlp([2, 3, 1], seed=0)
    fp.save(net, str(tmp_path / "a.npz"))
    net.save(tmp_path / "b.npz")
    assert fp.load(str(tmp_path / "a.npz")).params.tobytes() == \
           fp.load(tmp_path / "b.npz").params.tobytes() == net.params.tobytes()


def test_loaded_network_trains_like_the_original(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    net = fp.mlp([3, 4, 2], hidden="tanh", seed=0)
    net.save(tmp_path / "m.npz")
    back = fp.load(tmp_path / "m.npz")
    net.fit(X, y, epochs=3, batch_size=4, seed=0)
    back.fit(X, y, epochs=3, batch_size=4, seed=0)
    np.testing.assert_array_equal(net.params, back.params)


def test_save_overwrites_and_leaves_no_temporary_file(tmp_path):
    a = fp.mlp([2, 3, 1], seed=0)
    b = fp.mlp([2, 3, 1], seed=1)
    path = tmp_path / "m.npz"
    a.save(path)
    b.save(path)
    assert sorted(os.listdir(tmp_path)) == ["m.npz"]
    assert fp.load(path).params.tobytes() == b.params.tobytes()


def test_save_writes_a_temporary_file_then_renames_it_with_os_replace(tmp_path, monkeypatch):
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        src, dst = os.fspath(src), os.fspath(dst)
        calls.append((src, dst))
        assert os.path.dirname(src) == os.path.dirname(dst)     # same directory: atomic
        assert os.path.getsize(src) > 0                         # fully written before
        assert not os.path.exists(dst)
        return real_replace(src, dst)

    monkeypatch.setattr(fp_io.os, "replace", spy)
    path = tmp_path / "m.npz"
    fp.mlp([2, 3, 1]).save(path)
    assert len(calls) == 1
    assert calls[0][1] == str(path)
    assert calls[0][0] != str(path)
    assert os.listdir(tmp_path) == ["m.npz"]


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    old = fp.mlp([2, 3, 1], seed=0)
    path = tmp_path / "m.npz"
    old.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fp_io.np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        fp.mlp([2, 3, 1], seed=1).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_saved_file_has_the_permissions_of_an_ordinary_new_file(tmp_path):
    # A temporary file from mkstemp is created 0600; the saved model should get the usual
    # permissions (0666 masked by the umask), as np.savez or open() would give it.
    ordinary = tmp_path / "ordinary.npz"
    np.savez(ordinary, a=np.ones(1))
    path = tmp_path / "m.npz"
    fp.mlp([2, 1]).save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(ordinary).st_mode)


def test_saved_file_is_a_plain_npz_without_pickled_objects(tmp_path):
    path = tmp_path / "m.npz"
    fp.mlp([3, 4, 2], hidden="relu").save(path)
    with np.load(path, allow_pickle=False) as data:       # would raise on any object array
        fields = {k: data[k] for k in data.files}
    assert all(v.dtype != object for v in fields.values())
    assert "params" in fields


def test_load_never_unpickles_an_object_array(tmp_path):
    path = tmp_path / "m.npz"
    fp.mlp([2, 3, 1]).save(path)
    with np.load(path) as data:
        fields = {k: data[k] for k in data.files}
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    fields["activations"] = np.array([Evil(), "identity"], dtype=object)
    bad = tmp_path / "evil.npz"
    np.savez(bad, **fields)
    with zipfile.ZipFile(bad) as z:                     # it really holds a pickle
        assert any(n.startswith("activations") for n in z.namelist())
    with pytest.raises(ValueError):
        fp.load(bad)
    assert not marker.exists()


def test_load_of_an_npz_whose_params_are_objects_raises_value_error(tmp_path):
    path = tmp_path / "m.npz"
    net = fp.mlp([2, 3, 1])
    net.save(path)
    with np.load(path) as data:
        fields = {k: data[k] for k in data.files}
    fields["params"] = np.array(list(net.params), dtype=object)
    np.savez(tmp_path / "obj.npz", **fields)
    with pytest.raises(ValueError):
        fp.load(tmp_path / "obj.npz")


# ---- bad input: every unreadable, corrupt or foreign file is a ValueError naming the path ----
def _fields(path):
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def _npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _archive(tmp_path, filename, replace=(), drop=(), extra=(),
             compression=zipfile.ZIP_STORED):
    """The members of a saved 3-4-2 network as a new zip at tmp_path / filename: member
    `name` as replace[name] (bytes, written under that name, no .npy added) where given,
    left out if in drop, else as `name.npy`; then extra members (name -> bytes)."""
    saved = tmp_path / "saved.npz"
    fp.mlp([3, 4, 2], seed=0).save(saved)
    replace, path = dict(replace), tmp_path / filename
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, value in _fields(saved).items():
            if name in replace:
                z.writestr(name, replace[name])
            elif name not in drop:
                z.writestr(name + ".npy", _npy_bytes(value))
        for name, data in dict(extra).items():
            z.writestr(name, data)
    return path


@pytest.fixture
def saved(tmp_path):
    net = fp.mlp([3, 4, 2], hidden="tanh", seed=0)
    path = tmp_path / "net.npz"
    net.save(path)
    return path


def test_load_of_a_truncated_file_raises_value_error(saved, tmp_path):
    blob = saved.read_bytes()
    for cut in (10, len(blob) // 2, len(blob) - 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(blob[:cut])
        with pytest.raises(ValueError, match="path"):
            fp.load(bad)


def test_load_of_a_corrupt_file_raises_value_error(saved, tmp_path):
    blob = bytearray(saved.read_bytes())
    rng = np.random.default_rng(0)
    for trial in range(20):
        b = bytearray(blob)
        for pos in rng.integers(0, len(b), size=8):
            b[pos] ^= 0xFF
        bad = tmp_path / f"corrupt{trial}.npz"
        bad.write_bytes(bytes(b))
        try:
            net = fp.load(bad)
        except ValueError:
            continue
        # a flip that only touched parameter bytes can load: then the network is well formed
        assert net.params.shape == (26,)


def test_load_of_an_empty_file_raises_value_error(tmp_path):
    bad = tmp_path / "empty.npz"
    bad.write_bytes(b"")
    with pytest.raises(ValueError, match="path"):
        fp.load(bad)


def test_load_of_a_text_file_raises_value_error(tmp_path):
    bad = tmp_path / "notes.npz"
    bad.write_text("W1 = [[1, 2], [3, 4]]\n")
    with pytest.raises(ValueError, match="path"):
        fp.load(bad)


def test_load_of_a_foreign_npz_or_npy_raises_value_error(tmp_path):
    np.savez(tmp_path / "foreign.npz", weights=np.ones((3, 3)), labels=np.arange(3))
    with pytest.raises(ValueError, match="path"):
        fp.load(tmp_path / "foreign.npz")
    np.save(tmp_path / "array.npy", np.ones(5))
    with pytest.raises(ValueError, match="path"):
        fp.load(tmp_path / "array.npy")


@pytest.mark.parametrize("field,value", [
    ("format", np.array("other-format")), ("version", np.array(99)),
    ("sizes", np.array([3, 4])), ("sizes", np.array([3, -4, 2])),
    ("activations", np.array(["tanh", "swish"])), ("loss", np.array("hinge")),
    ("dtype", np.array("int8")), ("params", np.ones(25)), ("params", np.ones(26, np.float32)),
    ("params", np.ones((2, 13))),
])
def test_load_of_a_file_with_an_inconsistent_field_raises_value_error(saved, tmp_path, field,
                                                                       value):
    with np.load(saved) as data:
        fields = {k: data[k] for k in data.files}
    fields[field] = value
    bad = tmp_path / "bad.npz"
    np.savez(bad, **fields)
    with pytest.raises(ValueError, match="path"):
        fp.load(bad)


def test_load_of_a_file_claiming_enormous_layers_raises_value_error_without_allocating(saved,
                                                                                         tmp_path):
    # The sizes say 10^18 parameters while params holds 26: a corrupt header must be refused
    # as such, not by a MemoryError from allocating the network it describes.
    with np.load(saved) as data:
        fields = {k: data[k] for k in data.files}
    fields["sizes"] = np.array([10 ** 9, 10 ** 9, 2])
    bad = tmp_path / "huge.npz"
    np.savez(bad, **fields)
    with pytest.raises(ValueError, match="path"):
        fp.load(bad)


def test_load_of_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        fp.load(tmp_path / "nothing-here.npz")
    assert not os.path.exists(tmp_path / "nothing-here.npz")


def test_load_of_an_npz_with_a_corrupt_compressed_stream_raises_value_error(tmp_path):
    path = tmp_path / "m.npz"
    fp.mlp([3, 4, 2], seed=0).save(path)
    packed = tmp_path / "packed.npz"
    np.savez_compressed(packed, **_fields(path))
    blob = bytearray(packed.read_bytes())
    with zipfile.ZipFile(packed) as z:
        info = z.getinfo("params.npy")
    data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(4):                       # inside the deflate stream of params
        blob[data_start + 20 + k] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"path: .*bad\.npz.*corrupt"):
        fp.load(bad)


def test_load_of_a_compressed_npz_with_random_bit_flips_raises_value_error_or_loads(tmp_path):
    path = tmp_path / "m.npz"
    fp.mlp([3, 4, 2], seed=0).save(path)
    packed = tmp_path / "packed.npz"
    np.savez_compressed(packed, **_fields(path))
    blob = packed.read_bytes()
    rng = np.random.default_rng(1)
    for trial in range(40):
        b = bytearray(blob)
        for pos in rng.integers(0, len(b), size=4):
            b[pos] ^= 1 << int(rng.integers(0, 8))
        bad = tmp_path / f"flip{trial}.npz"
        bad.write_bytes(bytes(b))
        try:
            net = fp.load(bad)
        except ValueError as exc:
            assert "path" in str(exc)
            continue
        assert net.params.shape == (26,) and np.isfinite(net.params).all()


@pytest.mark.parametrize("member", ["sizes", "params", "format", "activations"])
def test_load_of_an_npz_whose_member_is_raw_bytes_raises_value_error(tmp_path, member):
    # no .npy suffix, no npy header
    bad = _archive(tmp_path, "raw.npz", replace={member: b"not an array at all"})
    with pytest.raises(ValueError, match=rf"path: .*raw\.npz.*{member}.* not a \.npy array"):
        fp.load(bad)


def test_load_of_an_npy_member_whose_header_claims_more_data_than_it_holds(tmp_path):
    # A header claiming 10**12 parameters over 26 values of data: refused from the header,
    # not by a MemoryError from allocating what it claims.
    path = tmp_path / "m.npz"
    fp.mlp([3, 4, 2], seed=0).save(path)
    fields = _fields(path)
    header = np.lib.format.header_data_from_array_1_0(fields["params"])
    header["shape"] = (10 ** 12,)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    lying = buf.getvalue() + fields["params"].tobytes()
    bad = tmp_path / "lying.npz"
    with zipfile.ZipFile(bad, "w") as z:
        for name, value in fields.items():
            z.writestr(name + ".npy", lying if name == "params" else _npy_bytes(value))
    with pytest.raises(ValueError, match=r"path: .*lying\.npz.*params"):
        fp.load(bad)


def test_load_of_a_text_file_says_it_is_not_a_fastprop_npz_file(tmp_path):
    bad = tmp_path / "notes.npz"
    bad.write_text("W1 = [[1, 2], [3, 4]]\n")
    with pytest.raises(ValueError, match=r"path: .*notes\.npz.* not a fastprop \.npz file") as info:
        fp.load(bad)
    assert "pickle" not in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_load_refuses_non_finite_params(tmp_path, bad, dtype):
    path = tmp_path / "m.npz"
    fp.mlp([3, 4, 2], dtype=dtype, seed=0).save(path)
    fields = _fields(path)
    fields["params"][5] = bad
    np.savez(tmp_path / "nonfinite.npz", **fields)
    with pytest.raises(ValueError, match=r"path: .*nonfinite\.npz.*params: expected finite"):
        fp.load(tmp_path / "nonfinite.npz")


@pytest.mark.parametrize("not_a_net", ["x", None, np.zeros(3)])
def test_save_of_something_that_is_not_a_network_raises_type_error_naming_net(tmp_path,
                                                                             not_a_net):
    path = tmp_path / "m.npz"
    with pytest.raises(TypeError, match=r"net: expected a fastprop Network, got "):
        fp.save(not_a_net, path)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("path", [None, 3.5])
def test_save_and_load_of_a_path_that_is_not_a_path_raise_type_error_naming_path(path):
    with pytest.raises(TypeError, match=r"path: expected a str or os.PathLike"):
        fp.save(fp.mlp([2, 1]), path)
    with pytest.raises(TypeError, match=r"path: expected a str or os.PathLike"):
        fp.load(path)


def test_load_of_a_directory_raises_value_error_naming_the_path(tmp_path):
    with pytest.raises(ValueError, match="path: "):
        fp.load(tmp_path)


def test_load_refuses_a_member_that_is_not_part_of_a_network_file_without_reading_it(
        tmp_path, monkeypatch):
    # A file of a few KiB that would unzip to 64 MiB: refused by the member's name, before
    # anything is decompressed.
    bomb = _archive(tmp_path, "bomb.npz", extra={"junk.npy": _npy_bytes(np.zeros(8 << 20))},
                    compression=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 1 << 20
    opened = []                 # every member load opens (reads go through ZipFile.open)
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, name, *a, **k: opened.append(getattr(name, "filename", name))
                        or real_open(self, name, *a, **k))
    with pytest.raises(ValueError, match=r"path: .*bomb\.npz.*member 'junk\.npy' is not part "
                                         r"of a fastprop network file"):
        fp.load(bomb)
    assert "junk.npy" not in opened


def test_load_refuses_params_larger_than_its_sizes_allow_before_decompressing_them(tmp_path):
    # A consistent .npy of 2**22 zeros as the params of a 26-parameter network.
    path = tmp_path / "m.npz"
    fp.mlp([3, 4, 2], seed=0).save(path)
    fields = _fields(path)
    fields["params"] = np.zeros(1 << 22)
    big = tmp_path / "big.npz"
    np.savez_compressed(big, **fields)
    assert big.stat().st_size < 1 << 20
    with pytest.raises(ValueError, match=r"path: .*big\.npz.*member 'params\.npy' holds "
                                         r"\d+ bytes, more than the \d+ it can hold"):
        fp.load(big)


def test_load_reads_no_more_than_a_members_bound_when_the_directory_lies_about_its_size(
        tmp_path, monkeypatch):
    # params.npy holds 64 MiB of zeros (64 KiB deflated); the central directory says 1,000
    # bytes. zipfile's read() of the member would inflate all 64 MiB before checking.
    import struct
    lie = _archive(tmp_path, "lie.npz", drop=["params"], extra={"params.npy": b"\0" * (64 << 20)},
                   compression=zipfile.ZIP_DEFLATED)
    data = bytearray(lie.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:                      # each central directory entry: patch params.npy's
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46:at + 46 + name_len]) == b"params.npy":
            struct.pack_into("<I", data, at + 24, 1000)
        at = data.find(b"PK\x01\x02", at + 4)
    lie.write_bytes(bytes(data))
    inflated = []                       # bytes each decompressor call produced
    real_get = zipfile._get_decompressor

    class Counting:
        def __init__(self, inner):
            self.inner = inner

        def decompress(self, data, max_length=0):
            out = self.inner.decompress(data, max_length)
            inflated.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(zipfile, "_get_decompressor", lambda kind: Counting(real_get(kind)))
    with pytest.raises(ValueError, match=r"path: .*lie\.npz"):
        fp.load(lie)
    assert inflated and sum(inflated) <= 1 << 20


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_load_of_a_named_pipe_raises_value_error_instead_of_waiting(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"path: .*pipe\.npz.* is not a regular file"):
        fp.load(fifo)


def test_save_into_a_missing_directory_or_onto_a_directory_names_the_path(tmp_path):
    net = fp.mlp([2, 1], seed=0)
    target = tmp_path / "no" / "such" / "m.npz"
    with pytest.raises(FileNotFoundError, match=r"path: .*m\.npz.* its directory .* does not "
                                                r"exist"):
        net.save(target)
    with pytest.raises(IsADirectoryError, match=r"path: .* is a directory"):
        net.save(tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"path: .*file.* is a file, not a directory"):
        net.save(tmp_path / "file" / "m.npz")
    (tmp_path / "file").unlink()
    assert os.listdir(tmp_path) == []


def test_save_and_load_accept_a_bytes_path(tmp_path):
    net = fp.mlp([2, 3, 1], seed=0)
    path = os.fsencode(str(tmp_path / "m.npz"))
    net.save(path)
    assert np.array_equal(fp.load(path).params, net.params)


@pytest.mark.parametrize("version", [np.array("1"), np.array(1.7), np.array([1]), np.array(2)])
def test_load_takes_only_the_integer_version_it_writes(tmp_path, version):
    path = tmp_path / "m.npz"
    fp.mlp([3, 4, 2], seed=0).save(path)
    fields = _fields(path)
    fields["version"] = version
    np.savez(tmp_path / "v.npz", **fields)
    with pytest.raises(ValueError, match=r"path: .*v\.npz.* version .* expected the integer 1"):
        fp.load(tmp_path / "v.npz")


def test_save_over_a_file_keeps_its_permissions(tmp_path):
    path = tmp_path / "m.npz"
    fp.mlp([2, 1], seed=0).save(path)
    os.chmod(path, 0o600)
    fp.mlp([2, 1], seed=1).save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_save_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    fp.mlp([2, 1], seed=0).save(target)
    os.symlink(target, link)
    net = fp.mlp([2, 1], seed=1)
    net.save(link)
    assert os.path.islink(link)
    np.testing.assert_array_equal(fp.load(target).params, net.params)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bz2", "lzma"])
def test_load_refuses_compression_methods_numpy_does_not_write_before_reading(tmp_path, method):
    # zipfile's bz2 and lzma readers inflate a whole read request with no bound on the output
    odd = _archive(tmp_path, "odd.npz", compression=method)
    with pytest.raises(ValueError, match=rf"path: .*odd\.npz.* compression method {method}; "
                                         r"expected stored or deflated"):
        fp.load(odd)


def test_load_checks_the_params_count_against_sizes_before_reading_params(tmp_path):
    # sizes [2**20, 2**20] (1.1e12 parameters) with an honest params of 2**22 zeros: refused
    # from the two headers, without inflating the 32 MiB
    path = tmp_path / "m.npz"
    fp.mlp([3, 4, 2], seed=0).save(path)
    fields = _fields(path)
    fields["sizes"] = np.array([2 ** 20, 2 ** 20])
    fields["activations"] = np.array(["identity"])
    fields["params"] = np.zeros(1 << 22)
    np.savez_compressed(tmp_path / "huge.npz", **fields)
    with pytest.raises(ValueError, match=r"path: .*huge\.npz.* header says 4194304 values, "
                                         r"expected 1099512676352"):
        fp.load(tmp_path / "huge.npz")
    fields["sizes"] = np.array([2 ** 40, 2 ** 40])
    np.savez_compressed(tmp_path / "impossible.npz", **fields)
    with pytest.raises(ValueError, match=r"path: .*impossible\.npz.* more than the"):
        fp.load(tmp_path / "impossible.npz")


@pytest.mark.parametrize("descr", ["<U0", "|S0"])
def test_load_refuses_a_dtype_of_zero_bytes_an_element(tmp_path, descr):
    # a header of 2**40 empty strings and no data: a loop of 2**40 str() calls otherwise
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": (2 ** 40,)})
    bad = _archive(tmp_path, "empty_strings.npz", drop=["activations"],
                   extra={"activations.npy": buf.getvalue()})
    with pytest.raises(ValueError, match=r"member 'activations\.npy': dtype .* has no bytes"):
        fp.load(bad)


def test_load_of_an_unterminated_npy_header_raises_value_error(tmp_path):
    head = b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little") + b"{'descr': '<U1".ljust(118)
    bad = _archive(tmp_path, "unterminated.npz", drop=["format"], extra={"format.npy": head})
    with pytest.raises(ValueError, match=r"member 'format\.npy': unreadable \.npy header"):
        fp.load(bad)


def test_load_reads_a_member_in_bounded_pieces(tmp_path, monkeypatch):
    # zipfile allocates a read request's size before reading: a header (or a lying zip64
    # directory) claiming gigabytes must not become one request of that size
    net = fp.mlp([512, 1024, 10], seed=0)          # 535,562 float64 values: 4.3 MB
    path = tmp_path / "m.npz"
    net.save(path)
    requests = []
    real_read = zipfile.ZipExtFile.read
    monkeypatch.setattr(zipfile.ZipExtFile, "read",
                        lambda self, n=-1: requests.append(n) or real_read(self, n))
    np.testing.assert_array_equal(fp.load(path).params, net.params)
    assert requests and all(0 <= n <= 1 << 20 for n in requests)


# ---- kill -9 while saving --------------------------------------------------------------
def _temporaries(directory):
    return sorted(n for n in os.listdir(directory) if ".fastprop-" in n)


@pytest.mark.skipif(not hasattr(os, "fork") or fp_io.fcntl is None,
                    reason="needs fork and flock")
def test_kill_9_while_saving_leaves_the_old_or_new_file_and_at_most_one_temporary(tmp_path):
    # A child process saves one of two 16 MB networks after the other, in a loop; the parent
    # SIGKILLs it at a random moment, 40 times. After every kill the target loads as one of
    # the two, and at most one temporary file is left (the killed writer's: each save removes
    # the stale ones first); after a final save, none.
    import random
    import signal
    import time
    import warnings
    nets = [fp.mlp([1000, 2000, 1], seed=s) for s in (0, 1)]     # 2,004,001 params each
    path = tmp_path / "m.npz"
    start = time.perf_counter()
    nets[0].save(path)
    one_save = time.perf_counter() - start
    rng = random.Random(0)
    rounds, killed_mid_write = 40, 0
    for k in range(rounds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads
            pid = os.fork()
        if pid == 0:                          # the child: save, save, ... until killed
            try:
                i = k
                while True:
                    nets[i % 2].save(path)
                    i += 1
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.0, 2.5 * one_save))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        back = fp.load(path).params
        assert any(np.array_equal(back, n.params) for n in nets), f"round {k}: torn file"
        left = _temporaries(tmp_path)
        assert len(left) <= 1, f"round {k}: {left}"
        killed_mid_write += len(left)
    assert killed_mid_write >= 5, "the kills never landed while a temporary file existed"
    nets[1].save(path)
    assert os.listdir(tmp_path) == ["m.npz"]
    np.testing.assert_array_equal(fp.load(path).params, nets[1].params)


def test_save_removes_a_stale_temporary_file_of_a_dead_writer_and_keeps_others(tmp_path):
    path = tmp_path / "m.npz"
    stale = tmp_path / ".m.npz.fastprop-999999999-0123abcd.tmp"   # no writer holds its lock
    stale.write_bytes(b"half a network")
    other_target = tmp_path / ".n.npz.fastprop-999999999-0123abcd.tmp"
    other_target.write_bytes(b"another target's")
    not_ours = tmp_path / ".m.npz.fastprop-notes.tmp"
    not_ours.write_bytes(b"a user's file")
    fp.mlp([2, 1]).save(path)
    assert sorted(os.listdir(tmp_path)) == sorted([other_target.name, not_ours.name, "m.npz"])


@pytest.mark.skipif(fp_io.fcntl is None, reason="needs flock")
def test_save_keeps_the_temporary_file_of_a_writer_still_writing(tmp_path):
    path = tmp_path / "m.npz"
    busy = tmp_path / ".m.npz.fastprop-999999999-0123abcd.tmp"
    busy.write_bytes(b"being written")
    with open(busy, "rb") as f:                  # a live writer holds its lock
        fp_io.fcntl.flock(f.fileno(), fp_io.fcntl.LOCK_EX)
        fp.mlp([2, 1]).save(path)
        assert busy.exists()
    fp.mlp([2, 1]).save(path)                     # its writer gone: removed
    assert os.listdir(tmp_path) == ["m.npz"]


def test_concurrent_saves_to_one_path_from_threads_all_succeed(tmp_path):
    import threading
    path = tmp_path / "m.npz"
    nets = [fp.mlp([20, 50, 3], seed=s) for s in range(4)]
    errors = []

    def work(net):
        try:
            for _ in range(10):
                net.save(path)
        except BaseException as exc:        # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in nets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert os.listdir(tmp_path) == ["m.npz"]
    back = fp.load(path).params
    assert any(np.array_equal(back, n.params) for n in nets)


def test_a_temporary_name_stays_within_name_max_for_a_long_target_name(tmp_path):
    path = tmp_path / ("n" * 250 + ".npz")
    fp.mlp([2, 1]).save(path)
    fp.mlp([2, 1]).save(path)
    assert os.listdir(tmp_path) == [path.name]
