"""Exact comparison of two traces: the verify contract (docs/verify.md).

Every population, every step, every sample: u, v and spikes compared as integers (spikes only for
a host spike source, which has no u or v in Lava). The first
divergence is the earliest step, then the earliest population in network order, then u before v
before s, then the lowest sample and neuron index. The one hardware difference is applied as an
explicit rule, never as a tolerance: Loihi reports a placeholder voltage on the step a neuron
spikes, so with voltage_on_spike=False v is not compared where either side spiked (spikes are).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, computed_field
from pydantic.dataclasses import dataclass

from snnc.runtime.trace import VARIABLES, Trace


@dataclass(frozen=True)
class Divergence:
    population: str
    variable: str  # "u" | "v" | "s"
    timestep: int  # 1-based
    sample: int
    neuron: tuple[int, ...]  # index in the population's shape
    reference: int  # the JAX reference's value
    other: int  # Lava's value

    def describe(self, other_name: str = "lava") -> str:
        return (f"population {self.population}, {self.variable} at step {self.timestep}, sample {self.sample}, "
                f"neuron {list(self.neuron)}: jax {self.reference}, {other_name} {self.other}")


class PopulationComparison(BaseModel):
    model_config = ConfigDict(frozen=True)
    compared: dict[str, int]  # variable -> values compared
    differing: dict[str, int]


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)
    populations: dict[str, PopulationComparison]
    first_divergence: Divergence | None

    @property
    def first(self) -> Divergence | None:
        return self.first_divergence

    @computed_field
    @property
    def bit_exact(self) -> bool:
        return self.first_divergence is None

    @computed_field(alias="compared")
    @property
    def total_compared(self) -> int:
        return sum(sum(p.compared.values()) for p in self.populations.values())

    @computed_field(alias="differing")
    @property
    def total_differing(self) -> int:
        return sum(sum(p.differing.values()) for p in self.populations.values())


def compare(reference: Trace, other: Trace, voltage_on_spike: bool = True) -> Comparison:
    if reference.populations != other.populations:
        raise ValueError(f"traces of different networks: {reference.populations} vs {other.populations}")
    compared, differing, candidates = {}, {}, []
    for rank, name in enumerate(reference.populations):
        compared[name], differing[name] = {}, {}
        for var_rank, k in enumerate(VARIABLES):
            if name not in getattr(reference, k) or name not in getattr(other, k):
                continue  # not a state of that side (a host spike source has no u, v in Lava)
            a, b = getattr(reference, k)[name], getattr(other, k)[name]
            if a.shape != b.shape:
                raise ValueError(f"{k} of {name}: shapes {a.shape} and {b.shape}")
            mask = np.ones(a.shape, bool)
            if k == "v" and not voltage_on_spike:
                mask = ~(reference.s[name] | other.s[name])
            diff = (a != b) & mask
            compared[name][k], differing[name][k] = int(mask.sum()), int(diff.sum())
            if diff.any():
                t = int(np.argmax(diff.reshape(len(diff), -1).any(axis=1)))
                index = np.unravel_index(int(np.argmax(diff[t])), diff.shape[1:])
                candidates.append(((t, rank, var_rank), Divergence(
                    name, k, t + 1, int(index[0]), tuple(int(i) for i in index[1:]), int(a[t][index]), int(b[t][index]))))
    first = min(candidates, key=lambda c: c[0])[1] if candidates else None
    return Comparison(populations={p: PopulationComparison(compared=compared[p], differing=differing[p]) for p in compared},
                      first_divergence=first)
