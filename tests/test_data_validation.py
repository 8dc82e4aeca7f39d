"""The .npz dataset boundary (runtime/data.py): every bad file is one SnncError line naming the
file, the array and the rule; the accepted forms of x and y read back exactly."""

import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_array_equal

from snnc.errors import SnncError
from snnc.runtime.data import array_info, iter_x, load_labels

SHAPE = (8, 8, 1)  # the model input shape the tests stream x to
X = np.arange(5 * 64, dtype=np.float32).reshape(5, 8, 8) / 320
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _npz(tmp_path, name="d.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _refused(call, path, *needles):
    """`call()` raises one SnncError line that names the file and contains every needle."""
    with pytest.raises(SnncError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    for needle in needles:
        assert needle in message, message
    return message


def _stream(path, batch=2, limit=None, shape=SHAPE):
    return lambda: list(iter_x(path, shape, batch, limit))


def _nan_at(i):
    x = X.copy()
    x[i, 3, 4] = np.nan
    return x


# x: refused by header (dtype, no samples, rank) and by values (non-finite, float32 overflow)
X_REFUSALS = {
    "complex": (X.astype(np.complex64), ["'x'", "complex", "real numbers"]),
    "bool": (X > 0.5, ["'x'", "bool", "real numbers"]),
    "text": (np.full((5, 8, 8), "a"), ["'x'", "text"]),
    "bytes": (np.full((5, 8, 8), b"a"), ["'x'", "bytes"]),
    "structured": (np.zeros((5, 8, 8), dtype=[("a", "f4")]), ["'x'", "structured"]),
    "raw void": (np.zeros((5, 8, 8), dtype="V4"), ["'x'", "structured/raw"]),
    "datetime": (np.zeros((5, 8, 8), dtype="datetime64[s]"), ["'x'", "datetime"]),
    "timedelta": (np.zeros((5, 8, 8), dtype="timedelta64[s]"), ["'x'", "timedelta"]),
    "object": (np.array([None] * 5, dtype=object), ["'x'", "Python objects"]),
    "no samples": (np.zeros((0, 8, 8), np.float32), ["'x'", "no samples"]),
    "0-d": (np.float32(1.0), ["'x'", "0-d"]),
    "1-d": (np.zeros(5, np.float32), ["'x'", "1-D", "(8, 8, 1)"]),
    "other shape": (np.zeros((5, 7, 7)), ["(7, 7)", "(8, 8, 1)"]),
    "same size, other shape": (np.zeros((5, 4, 16)), ["(4, 16)", "(8, 8, 1)"]),
    "fortran": (np.asfortranarray(np.zeros((5, 8, 8))), ["'x'", "Fortran"]),
    "nan in first batch": (_nan_at(0), ["'x'", "sample 0 ", "non-finite", "finite"]),
    "nan in a later batch": (_nan_at(3), ["'x'", "sample 3 ", "non-finite"]),
    "inf": (np.where(np.arange(5)[:, None, None] == 4, np.inf, X), ["'x'", "sample 4 ", "non-finite"]),
    "-inf float16": (np.where(np.arange(5)[:, None, None] == 2, -np.inf, X).astype(np.float16), ["sample 2 "]),
    "all nan (calibration)": (np.full((5, 8, 8), np.nan), ["'x'", "sample 0 ", "non-finite"]),
    "beyond float32": (np.where(np.arange(5)[:, None, None] == 1, 1e39, X.astype(np.float64)),
                       ["'x'", "sample 1 ", "float32 range"]),
}


@pytest.mark.parametrize("case", X_REFUSALS)
def test_x_refusals(case, tmp_path):
    x, needles = X_REFUSALS[case]
    path = _npz(tmp_path, x=x, y=np.zeros(len(x) if x.ndim else 1, np.int64))
    _refused(_stream(path), path, *needles)


@pytest.mark.parametrize("case", ["complex", "bool", "text", "structured", "datetime", "object", "no samples", "0-d"])
def test_x_header_refusals_also_from_array_info_and_load_labels(case, tmp_path):
    x, needles = X_REFUSALS[case]
    path = _npz(tmp_path, x=x, y=np.zeros(len(x) if x.ndim else 1, np.int64))
    _refused(lambda: array_info(path), path, *needles)
    _refused(lambda: load_labels(path), path, *needles)


def test_x_values_past_the_limit_are_not_read(tmp_path):
    path = _npz(tmp_path, x=_nan_at(4))
    assert len(np.concatenate(_stream(path, batch=2, limit=4)())) == 4
    _refused(_stream(path, batch=2, limit=5), path, "sample 4 ")


# x: accepted forms
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.int64, np.float16,
                                   np.float32, np.float64, ">f8", ">i4"])
def test_x_real_dtypes_stream_as_float32(dtype, tmp_path):
    x = (np.arange(5 * 64).reshape(5, 8, 8) % 100).astype(dtype)
    path = _npz(tmp_path, x=x)
    batches = _stream(path, batch=2)()
    assert [b.shape for b in batches] == [(2, 8, 8, 1), (2, 8, 8, 1), (1, 8, 8, 1)]
    assert all(b.dtype == np.float32 for b in batches)
    assert_array_equal(np.concatenate(batches)[..., 0], x.astype(np.float32))
    assert array_info(path).shape == (5, 8, 8)


@pytest.mark.parametrize("stored, model", [((8, 8, 1), (8, 8, 1)), ((8, 8), (8, 8, 1)), ((1, 8, 8), (8, 8, 1)),
                                           ((64,), (64, 1)), ((), (1,)), ((1,), (1,))])
def test_x_samples_match_the_model_up_to_axes_of_size_1(stored, model, tmp_path):
    x = np.arange(3 * int(np.prod(stored)), dtype=np.float32).reshape(3, *stored)
    path = _npz(tmp_path, x=x)
    out = np.concatenate(_stream(path, shape=model)())
    assert out.shape == (3, *model)
    assert_array_equal(out.reshape(-1), x.reshape(-1))


# y: refusals
Y_REFUSALS = {
    "non-integral float": (np.array([0, 1, 2.5, 3, 4]), {}, ["'y'", "sample 2 ", "whole numbers"]),
    "nan": (np.array([0, 1, 2, np.nan, 4]), {}, ["'y'", "sample 3 ", "finite"]),
    "inf": (np.array([np.inf, 1, 2, 3, 4]), {}, ["'y'", "sample 0 ", "finite"]),
    "negative": (np.array([0, 1, -1, 3, 4]), {}, ["'y'", "sample 2 ", ">= 0"]),
    "negative float (N, 1)": (np.array([[0.0], [-2.0], [1], [1], [1]]), {}, ["'y'", "sample 1 ", ">= 0"]),
    "too large for the model": (np.array([0, 1, 2, 10, 4]), {"classes": 10}, ["'y'", "sample 3 ", "0..9", "10 outputs"]),
    "uint8 too large": (np.array([0, 1, 2, 3, 255], np.uint8), {"classes": 10}, ["sample 4 ", "0..9"]),
    "float too large": (np.array([0, 1, 2, 3, 1e30]), {"classes": 10}, ["sample 4 ", "0..9"]),
    "beyond int64": (np.array([0, 1, 2**64 - 1, 3, 4], np.uint64), {}, ["sample 2 ", "2**63"]),
    "scores": (np.random.default_rng(0).random((5, 10)), {}, ["'y'", "sample 0 ", "not one-hot", "scores"]),
    "two ones": (np.eye(5, 10) + np.eye(5, 10, 1), {}, ["sample 0 ", "not one-hot"]),
    "zero row": (np.eye(5, 10) * (np.arange(5) != 3)[:, None], {}, ["sample 3 ", "not one-hot"]),
    "one and a two": (np.eye(5, 10) + 2 * np.eye(5, 10, 2) * (np.arange(5) == 1)[:, None], {}, ["sample 1 "]),
    "nan in one-hot": (np.where(np.arange(5)[:, None] == 2, np.nan, np.eye(5, 10)), {}, ["sample 2 ", "not one-hot"]),
    "one-hot of another width": (np.eye(5, 10), {"classes": 3}, ["'y'", "10 columns", "3 outputs"]),
    "no columns": (np.zeros((5, 0)), {}, ["'y'", "(5, 0)"]),
    "3-d": (np.zeros((5, 2, 2), np.int64), {}, ["'y'", "(5, 2, 2)"]),
    "0-d": (np.int64(3), {}, ["'y'", "shape ()"]),
    "bool": (np.ones(5, bool), {}, ["'y'", "bool"]),
    "complex": (np.ones(5, complex), {}, ["'y'", "complex"]),
    "text": (np.array(["cat"] * 5), {}, ["'y'", "text"]),
    "object": (np.array([1, 2, 3, 4, None], dtype=object), {}, ["'y'", "Python objects"]),
    "fewer labels than samples": (np.arange(4), {}, ["4 labels for 5 samples"]),
    "more labels than samples": (np.arange(6), {}, ["6 labels for 5 samples"]),
}


@pytest.mark.parametrize("case", Y_REFUSALS)
def test_y_refusals(case, tmp_path):
    y, kwargs, needles = Y_REFUSALS[case]
    path = _npz(tmp_path, x=X, y=y)
    _refused(lambda: load_labels(path, **kwargs), path, *needles)


# y: accepted forms
Y_ACCEPTED = {
    "(N,) int64": np.array([3, 0, 9, 1, 1]),
    "(N, 1) int": np.array([[3], [0], [9], [1], [1]], np.int32),
    "(N,) uint8": np.array([3, 0, 9, 1, 1], np.uint8),
    "(N,) big-endian": np.array([3, 0, 9, 1, 1], ">i8"),
    "integral floats": np.array([3.0, 0.0, 9.0, 1.0, 1.0]),
    "integral float32 (N, 1)": np.array([[3], [0], [9], [1], [1]], np.float32),
    "one-hot int": np.eye(10, dtype=np.int64)[[3, 0, 9, 1, 1]],
    "one-hot float": np.eye(10)[[3, 0, 9, 1, 1]],
    "one-hot uint8": np.eye(10, dtype=np.uint8)[[3, 0, 9, 1, 1]],
}


@pytest.mark.parametrize("case", Y_ACCEPTED)
def test_y_accepted_forms(case, tmp_path):
    path = _npz(tmp_path, x=(X * 255).astype(np.uint8), y=Y_ACCEPTED[case])
    for kwargs in ({}, {"classes": 10}):
        labels = load_labels(path, **kwargs)
        assert labels.dtype == np.int64
        assert_array_equal(labels, [3, 0, 9, 1, 1])
    assert_array_equal(load_labels(path, 2, classes=10), [3, 0])
    assert_array_equal(load_labels(path, count=3), [3, 0, 9])


def test_two_column_one_hot_is_labels_0_and_1(tmp_path):
    path = _npz(tmp_path, x=X, y=np.eye(2)[[1, 0, 0, 1, 1]])
    assert_array_equal(load_labels(path, classes=2), [1, 0, 0, 1, 1])


def test_classes_must_be_positive(tmp_path):
    path = _npz(tmp_path, x=X, y=np.zeros(5, np.int64))
    with pytest.raises(ValueError):
        load_labels(path, classes=0)


# files: missing, not a file, not npz, truncated, missing arrays, corrupt members
def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _npy_bytes(array, drop=0):
    buffer = io.BytesIO()
    np.save(buffer, array)
    data = buffer.getvalue()
    return data[:len(data) - drop]


def _file_cases(tmp_path):
    good = _npz(tmp_path, "good.npz", x=X, y=np.arange(5))
    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    (tmp_path / "half.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "folder.npz").mkdir()
    np.save(tmp_path / "plain.npy", X)
    flipped = bytearray(good.read_bytes())
    flipped[200] ^= 0xFF  # inside x's data: the member's CRC no longer matches
    (tmp_path / "flipped.npz").write_bytes(bytes(flipped))
    return {
        "missing": (tmp_path / "none.npz", ["no such file"]),
        "folder": (tmp_path / "folder.npz", ["not a file"]),
        "text": (tmp_path / "text.npz", ["not an .npz file"]),
        "truncated archive": (tmp_path / "half.npz", ["not an .npz file"]),
        "npy, not npz": (tmp_path / "plain.npy", ["not an .npz file"]),
        "no x": (_npz(tmp_path, "nox.npz", images=X, y=np.arange(5)), ["no array 'x'", "images"]),
        "x member truncated": (_zip(tmp_path / "cut.npz", {"x.npy": _npy_bytes(X, drop=64), "y.npy": _npy_bytes(
            np.arange(5))}), ["'x'", "truncated"]),
        "x member not npy": (_zip(tmp_path / "junk.npz", {"x.npy": b"hello", "y.npy": _npy_bytes(np.arange(5))}),
                             ["'x'", "not a readable .npy"]),
        "x data flipped": (tmp_path / "flipped.npz", ["'x'", "corrupt"]),
    }


def test_bad_files_are_one_line_refusals(tmp_path):
    for case, (path, needles) in _file_cases(tmp_path).items():
        _refused(_stream(path), path, *needles)
        if case != "x data flipped":  # labels read only x's header, not its data
            _refused(lambda: load_labels(path), path, *needles)


def test_negative_shape_in_a_crafted_header(tmp_path):
    header = _npy_bytes(X).replace(b"(5, 8, 8), }", b"(-5, 8, 8),}")  # same header length
    path = _zip(tmp_path / "neg.npz", {"x.npy": header, "y.npy": _npy_bytes(np.arange(5))})
    for call in (_stream(path), lambda: array_info(path), lambda: load_labels(path)):
        _refused(call, path, "'x'", "negative size")


def test_corruption_found_mid_stream(tmp_path):
    path = _npz(tmp_path, x=np.zeros((4000, 8, 8), np.float32))
    raw = bytearray(path.read_bytes())
    raw[900_000] ^= 0xFF  # x's data: found when the stream reaches the member's end and checks its CRC
    path.write_bytes(bytes(raw))
    assert array_info(path).shape == (4000, 8, 8)
    _refused(_stream(path, batch=1000), path, "'x'", "corrupt", "CRC")


def test_missing_or_truncated_y(tmp_path):
    path = _npz(tmp_path, x=X)
    _refused(lambda: load_labels(path), path, "no array 'y'", "x")
    cut = _zip(tmp_path / "cut.npz", {"x.npy": _npy_bytes(X), "y.npy": _npy_bytes(np.arange(5), drop=8)})
    _refused(lambda: load_labels(cut), cut, "'y'", "truncated")


# properties
@HYPOTHESIS
@given(data=st.data(), dtype=st.sampled_from([np.int8, np.uint8, np.int16, np.uint16, np.int32, np.int64,
                                              np.float32, np.float64]),
       column=st.booleans(), one_hot=st.booleans())
def test_in_range_labels_round_trip_exactly(tmp_path, data, dtype, column, one_hot):
    classes = data.draw(st.integers(2, 120), label="classes")
    labels = data.draw(hnp.arrays(np.int64, st.integers(1, 40), elements=st.integers(0, classes - 1)), label="y")
    y = np.eye(classes, dtype=dtype)[labels] if one_hot else labels.astype(dtype).reshape((-1, 1) if column else -1)
    path = _npz(tmp_path, x=np.zeros((len(labels), 2), np.uint8), y=y)
    out = load_labels(path, classes=classes)
    assert out.dtype == np.int64
    assert_array_equal(out, labels)


@HYPOTHESIS
@given(data=st.data(), dtype=st.sampled_from([np.float16, np.float32, np.float64]),
       bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_a_non_finite_value_anywhere_is_refused_naming_its_sample(tmp_path, data, dtype, bad):
    n = data.draw(st.integers(1, 30), label="samples")
    x = data.draw(hnp.arrays(dtype, (n, 3, 2), elements=st.floats(-100, 100, width=np.dtype(dtype).itemsize * 8)),
                  label="x")
    where = data.draw(st.tuples(st.integers(0, n - 1), st.integers(0, 2), st.integers(0, 1)), label="where")
    x[where] = bad
    batch = data.draw(st.integers(1, n + 2), label="batch")
    path = _npz(tmp_path, x=x)
    first = int(np.flatnonzero(~np.isfinite(x.reshape(n, -1)).all(axis=1))[0])
    assert first == where[0]
    _refused(lambda: list(iter_x(path, (3, 2), batch)), path, "'x'", f"sample {first} ", "non-finite")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), compressed=st.booleans())
def test_damaged_archives_read_or_refuse_in_one_line(tmp_path, data, compressed):
    path = tmp_path / "good.npz"
    (np.savez_compressed if compressed else np.savez)(path, x=X, y=np.arange(5))
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans(), label="truncate"):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="length")]
    else:
        raw[data.draw(st.integers(0, len(raw) - 1), label="at")] = data.draw(st.integers(0, 255), label="byte")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    for call in (_stream(bad), lambda: load_labels(bad, classes=10), lambda: array_info(bad)):
        try:
            call()
        except SnncError as e:
            assert "\n" not in str(e) and str(bad) in str(e)
