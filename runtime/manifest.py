"""The artifact's manifest: what was compiled, from what, how, for which target (pydantic, versioned)."""

from __future__ import annotations

from importlib import metadata
from typing import Literal

from pydantic import BaseModel, ConfigDict

from snnc.compiler.options import CompileOptions
from snnc.compiler.passes.place import Placement
from snnc.targets import Target, get_target

FORMAT = "snnc-artifact/2"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceFile(_Strict):
    file: str  # the name it had (no directories)
    sha256: str


class CalibrationData(SourceFile):
    samples: int
    percentile: float | None  # None: searched (compiler/passes/search_scales.py)


class EpochRecord(_Strict):
    epoch: int
    loss: float
    validation_accuracy: float | None


class FinetuneRecord(_Strict):
    """How a fine-tuned artifact came from its parent (compiler/finetune.py)."""
    parent_sha256: str
    data: SourceFile
    validation: SourceFile | None
    timesteps: int
    epochs: int
    loss: str
    learning_rate: float
    history: tuple[EpochRecord, ...]
    kept_epoch: int | None = None  # whose network the artifact holds: with validation data the best (0: the parent's)


class Manifest(_Strict):
    format: Literal["snnc-artifact/2"] = FORMAT
    versions: dict[str, str | None]  # snnc and the stack it was compiled with
    source_model: SourceFile
    calibration: CalibrationData | None
    target: str  # the resolved chip name (the options keep what was asked for)
    options: CompileOptions
    requested_target: str  # as the user named it (e.g. the family name "loihi")
    scales: dict[str, float]  # per population: the float activation that maps to full scale
    thresholds: dict[str, int]
    notes: tuple[str, ...]
    members: dict[str, str] = {}  # sha256 of every other archive member, filled in when saved
    target_spec: Target | None = None  # the resolved target whole (chips applied; a JSON board's numbers)
    placement: Placement | None = None  # cores and chips of every on-chip population (compiler/passes/place.py)
    finetune: FinetuneRecord | None = None  # set by snnc finetune

    @property
    def target_model(self) -> Target:
        """The target compiled for: as recorded, or (artifacts from before targets were recorded)
        the built-in target of that name."""
        return self.target_spec if self.target_spec is not None else get_target(self.target)


def stack_versions() -> dict[str, str | None]:
    out = {}
    for name in ("snnc", "jax", "jaxlib", "lava-nc", "numpy", "keras", "pydantic"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def upgrade_v1(old: dict) -> dict:
    """A snnc-artifact/1 manifest (an untyped dict) in the terms of this version."""
    options = old.get("options", {})
    return {"versions": old.get("versions", {}), "source_model": old["source_model"], "calibration": old.get("calibration"),
            "target": old["target"], "requested_target": old["target"],
            "options": {k: options[k] for k in (*CompileOptions.model_fields, "neuron") if k in options}
            | {"target": old["target"]},
            "scales": old["scales"], "thresholds": old["thresholds"], "notes": old.get("notes", [])}
