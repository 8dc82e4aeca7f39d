"""The .snn artifact: one zip file of JSON (manifest, networks) and .npy arrays. No pickle.

  manifest.json   the Manifest (runtime/manifest.py), with the sha256 of every other member
  spiking.json    the SpikingNet (integer IR), each population tagged with its neuron kind;
                  arrays as {"npy": member} under spiking/
  float.json      the FloatNet (the ANN, for its accuracy); arrays under float/
The JSON skeletons are the IR dataclasses themselves, validated by pydantic (strict types, no
unknown fields). Loading checks every member's hash, the schema, the networks' structure and the
target's limits, so a tampered or damaged artifact is refused naming the member and the rule.
Written to a temporary file beside the destination and renamed: a failed write leaves nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter, ValidationError

from snnc.compiler.ir.spiking import FloatNet, SpikingNet
from snnc.compiler.ir.validate import structure_violations
from snnc.compiler.passes.check_limits import violations
from snnc.errors import SnncError
from snnc.runtime.manifest import FORMAT, Manifest, upgrade_v1
from snnc.runtime.outputs import write_atomically
from snnc.targets import Target

NETWORKS = {"spiking.json": TypeAdapter(SpikingNet), "float.json": TypeAdapter(FloatNet)}
LEGACY_KINDS = (("full", "spike-source"), ("state_exp", "sigma-delta"), ("bias_exp", "lif"))  # format 1: no tags


@dataclass(frozen=True, eq=False)
class Artifact:
    manifest: Manifest
    spiking: SpikingNet
    float_net: FloatNet

    @property
    def target(self) -> Target:
        """The target as the manifest records it (no JSON file needed), else the built-in of its name."""
        return self.manifest.target_model


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_artifact(path: Path, artifact: Artifact) -> None:
    arrays: dict[str, np.ndarray] = {}
    members = {name: adapter.dump_json(net, context={"arrays": arrays, "prefix": name.removesuffix(".json")})
               for (name, adapter), net in zip(NETWORKS.items(), (artifact.spiking, artifact.float_net))}
    members |= {name: _npy(a) for name, a in arrays.items()}
    manifest = artifact.manifest.model_copy(update={"members": {n: _sha256(b) for n, b in members.items()}})
    with write_atomically(Path(path)) as tmp:
        # level 1: most of level 6's size gain on int32 weights at a fraction of its time
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            archive.writestr("manifest.json", manifest.model_dump_json(indent=2))
            for name, data in members.items():
                archive.writestr(name, data)


def load_artifact(path: Path) -> Artifact:
    path = Path(path)
    if not path.is_file():
        raise SnncError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    member = "the zip directory"
    try:
        with zipfile.ZipFile(path) as archive:
            member = "manifest.json"
            raw = json.loads(archive.read(member))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            legacy = raw.get("format") == "snnc-artifact/1"
            if raw.get("format") not in (FORMAT, "snnc-artifact/1"):
                raise SnncError(f"{path}: artifact format {raw.get('format')!r}, this snnc reads {FORMAT}")
            manifest = Manifest.model_validate(upgrade_v1(raw) if legacy else raw)
            if not legacy:
                _check_members(archive, manifest, path)
            arrays = {}
            for member in archive.namelist():
                if member.endswith(".npy"):
                    arrays[member] = np.load(io.BytesIO(archive.read(member)), allow_pickle=False)
            nets = []
            for member, adapter in NETWORKS.items():
                text = archive.read(member)
                text = _tag_kinds(text) if legacy and member == "spiking.json" else text
                nets.append(adapter.validate_json(text, context={"arrays": arrays}))
    except SnncError:
        raise
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SnncError(f"{path}: {member}: {where}: {first['msg']}") from None
    except (zipfile.BadZipFile, zlib.error, KeyError, ValueError, NotImplementedError, EOFError, OSError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SnncError(f"{path}: not a readable .snn artifact ({member}: {detail})") from None
    spiking, float_net = nets
    problems = structure_violations(spiking, integer=True) + structure_violations(float_net, integer=False)
    problems = problems or violations(spiking, manifest.target_model)
    if problems:
        raise SnncError(f"{path}: invalid network: " + "; ".join(problems))
    return Artifact(manifest, spiking, float_net)


def _check_members(archive: zipfile.ZipFile, manifest: Manifest, path: Path) -> None:
    present = set(archive.namelist()) - {"manifest.json"}
    if present != set(manifest.members):
        odd = sorted(present ^ set(manifest.members))
        raise SnncError(f"{path}: members {', '.join(odd)} are not the ones the manifest lists")
    for name, digest in manifest.members.items():
        if _sha256(archive.read(name)) != digest:
            raise SnncError(f"{path}: member {name} does not match its sha256 in the manifest (damaged or altered)")


def _tag_kinds(text: bytes) -> bytes:
    """A format-1 spiking.json with each population's kind tag inferred from its fields."""
    data = json.loads(text)
    for pop in data.get("populations", []):
        pop.setdefault("kind", next(kind for field, kind in LEGACY_KINDS if field in pop))
    return json.dumps(data).encode()
