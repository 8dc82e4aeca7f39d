"""A damaged or tampered .snn artifact is refused with one line naming the member and the rule:
byte flips anywhere in the zip, and members altered with their hashes recomputed (so that only the
schema and invariant checks stand between them and a wrong network)."""

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from helpers import FIXTURES
from snnc.cli import main
from snnc.errors import SnncError
from snnc.runtime.artifact import load_artifact


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    path = tmp_path_factory.mktemp("art") / "mlp.snn"
    assert main(["compile", str(FIXTURES / "mlp.h5"), "-o", str(path)]) == 0
    return path


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write(path, members: dict[str, bytes], rehash: bool = True) -> None:
    if rehash:
        manifest = json.loads(members["manifest.json"])
        manifest["members"] = {n: hashlib.sha256(b).hexdigest() for n, b in members.items() if n != "manifest.json"}
        members = {**members, "manifest.json": json.dumps(manifest).encode()}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _same_network(a, b) -> None:
    for x, y in zip(a.spiking.projections, b.spiking.projections):
        assert_array_equal(x.weight, y.weight)
    for x, y in zip(a.spiking.populations, b.spiking.populations):
        assert x == y or (x.vth, x.name) == (y.vth, y.name)


def _refused(capsys, path) -> str:
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("snnc: error:") and "Traceback" not in err, err
    return err


def test_byte_flips_in_every_region_are_refused_or_harmless(artifact, tmp_path):
    """Local headers, every member's data, the central directory and the end record: a flipped byte
    either makes the artifact unreadable (one-line error) or leaves every loaded value unchanged."""
    original = load_artifact(artifact)
    data = artifact.read_bytes()
    offsets = sorted(set(np.linspace(0, len(data) - 1, 400).astype(int)) | set(range(len(data) - 200, len(data))))
    refused = 0
    for offset in offsets:
        damaged = bytearray(data)
        damaged[offset] ^= 0x5A
        path = tmp_path / "flipped.snn"
        path.write_bytes(bytes(damaged))
        try:
            _same_network(original, load_artifact(path))
        except SnncError as exc:
            assert "\n" not in str(exc)
            refused += 1
    assert refused > len(offsets) // 2  # most bytes matter: the hashes see every member


def _alter_spiking(members, change) -> dict[str, bytes]:
    spiking = json.loads(members["spiking.json"])
    change(spiking, members)
    return {**members, "spiking.json": json.dumps(spiking).encode()}


def _set_npy(members, ref, array):
    members[ref["npy"]] = _npy(array)


def _hidden(spiking) -> dict:
    """The first LIF population."""
    return next(p for p in spiking["populations"] if p["kind"] == "lif")


def _weights(members, spiking, i=0):
    return np.load(io.BytesIO(members[spiking["projections"][i]["weight"]["npy"]]))


CASES = {
    "weight off the 8-bit grid": (lambda s, m: _set_npy(m, s["projections"][0]["weight"],
                                                        _weights(m, s) * 0 + np.int32(1001)), "8-bit grid"),
    "float weights": (lambda s, m: _set_npy(m, s["projections"][0]["weight"], _weights(m, s).astype(np.float32)),
                      "float32, not int32"),
    "threshold beyond 17 bits": (lambda s, m: _hidden(s).update(vth=1 << 17), "threshold"),
    "negative threshold": (lambda s, m: _hidden(s).update(vth=-3), "threshold"),
    "float threshold": (lambda s, m: _hidden(s).update(vth=2.5), "vth"),
    "dropped projections": (lambda s, m: s.update(projections=[q for q in s["projections"]
                                                               if q["dst"] != _hidden(s)["name"]]), "no incoming projection"),
    "cycle": (lambda s, m: s["projections"][0].update(src=s["projections"][0]["dst"], dst=s["projections"][0]["src"]),
              "backwards"),
    "wrong weight shape": (lambda s, m: _set_npy(m, s["projections"][0]["weight"], _weights(m, s)[:-1]),
                           "weight shape"),
    "unknown neuron kind": (lambda s, m: s["populations"][1].update(kind="izhikevich"), "izhikevich"),
    "unknown field": (lambda s, m: s["populations"][1].update(refractory=3), "refractory"),
    "missing array member": (lambda s, m: s["projections"][0].update(weight={"npy": "spiking/999.npy"}), "999"),
    "pickled array": (lambda s, m: _set_npy(m, s["projections"][0]["weight"], np.array([{}], dtype=object)),
                      "spiking"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tampered_network_is_refused_naming_the_rule(case, artifact, tmp_path, capsys):
    change, message = CASES[case]
    path = tmp_path / "tampered.snn"
    _write(path, _alter_spiking(_members(artifact), change))
    assert message in _refused(capsys, path)


@pytest.mark.parametrize("manifest, message", [
    (b"[]", "manifest.json"),
    (b'{"format": "snnc-artifact/9"}', "snnc-artifact/9"),
    (b"not json", "manifest.json"),
])
def test_malformed_manifest_is_refused(manifest, message, artifact, tmp_path, capsys):
    path = tmp_path / "m.snn"
    _write(path, {**_members(artifact), "manifest.json": manifest}, rehash=False)
    assert message in _refused(capsys, path)


def test_manifest_field_of_the_wrong_type_is_refused(artifact, tmp_path, capsys):
    members = _members(artifact)
    manifest = json.loads(members["manifest.json"])
    manifest["target"] = 5
    path = tmp_path / "m.snn"
    _write(path, {**members, "manifest.json": json.dumps(manifest).encode()}, rehash=False)
    assert "target" in _refused(capsys, path)


def test_member_changed_without_rehash_or_added_is_refused(artifact, tmp_path, capsys):
    members = _members(artifact)
    path = tmp_path / "m.snn"
    _write(path, {**members, "spiking.json": members["spiking.json"].replace(b'"vth":', b'"vth": ')}, rehash=False)
    assert "sha256" in _refused(capsys, path)
    _write(path, {**members, "extra.npy": _npy(np.zeros(2))}, rehash=False)
    assert "extra.npy" in _refused(capsys, path)


def test_directory_as_artifact_is_one_line(tmp_path, capsys):
    assert "not a file" in _refused(capsys, tmp_path)
