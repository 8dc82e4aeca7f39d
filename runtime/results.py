"""What the API returns (pydantic models): each result's JSON is its model_dump_json()."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, computed_field

from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.passes.place import Placement
from snnc.runtime.compare import Comparison
from snnc.runtime.counts import EnergyEstimate, LayerCounts
from snnc.runtime.manifest import EpochRecord, Manifest
from snnc.targets import Target


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, serialize_by_alias=True)

    def to_json(self) -> str:
        return self.model_dump_json()


class LayerRow(_Result):
    population: str
    layer: str
    role: str
    shape: tuple[int, ...]
    neurons: int
    synapses: str  # e.g. "conv1/relu: conv 3x3x1 8b" per incoming projection
    weight_exp: int
    vth: int
    exponent: int  # the bias's shift: bias_exp (LIF), state_exp (sigma-delta)


class CompileResult(_Result):
    output: Path
    network: SpikingNet = Field(exclude=True)
    layers: tuple[LayerRow, ...]
    notes: tuple[str, ...]
    manifest: Manifest


class TimestepAccuracy(_Result):
    timesteps: int
    accuracy: float
    correct: int


class Latency(_Result):
    """When the answer is final, over the largest T evaluated: per sample the first step from which
    the class read out at every later step is the one read at step T."""
    timesteps: int
    mean_steps: float
    p90_steps: float  # 90 % of the samples have their final answer by this step
    max_steps: int
    depth: int  # projections on the longest input -> output path: no coding answers before step depth + 1


class EvaluateResult(_Result):
    samples: int
    results: tuple[TimestepAccuracy, ...]
    ann_accuracy: float | None
    latency: Latency | None = None
    layers: tuple[LayerCounts, ...] = ()  # counts per population at the largest T
    energy: EnergyEstimate | None = None  # per inference at the largest T
    warnings: tuple[str, ...] = ()  # what the numbers do not show (inputs the encoding clipped)

    @computed_field
    @property
    def synops(self) -> float:
        return sum(layer.synops_in for layer in self.layers)


class VerifyResult(_Result):
    comparison: Comparison = Field(exclude=True)
    samples: int
    timesteps: int
    backend: str
    artifact_sha256: str
    seconds: dict[str, float]  # "jax", "lava": wall time of each side

    @computed_field
    @property
    def bit_exact(self) -> bool:
        return self.comparison.bit_exact

    @computed_field
    @property
    def compared(self) -> int:
        return self.comparison.total_compared

    @computed_field
    @property
    def differing(self) -> int:
        return self.comparison.total_differing

    @computed_field
    @property
    def first_divergence(self) -> dict | None:
        first = self.comparison.first_divergence
        return None if first is None else self.comparison.model_dump(include={"first_divergence"})["first_divergence"]

    @computed_field
    @property
    def populations(self) -> dict:
        return self.comparison.model_dump(include={"populations"})["populations"]


class ExportResult(_Result):
    path: Path
    notes: tuple[str, ...] = ()  # what the format cannot hold exactly


class FinetuneResult(_Result):
    output: Path
    history: tuple[EpochRecord, ...]  # loss and validation accuracy per epoch
    kept_epoch: int  # whose network the output holds: with validation data the best epoch (0: the parent), else the last


class Resources(_Result):
    estimate: bool = True
    cores: int
    chips: int
    populations: tuple[dict, ...]


class Inspection(_Result):
    manifest: Manifest
    summaries: dict[str, str]  # neuron kind -> its model and firing rule
    resources: Resources
    layers: tuple[LayerRow, ...]
    projections: tuple[dict, ...]
    encoding: dict[str, float]
    target: Target  # the target compiled for, as the artifact records it (chips included)
    placement: Placement  # cores and chips per population (the manifest's; computed for older artifacts)
