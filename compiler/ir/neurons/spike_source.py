"""Input spike trains generated on the host (Lava: a RingBuffer), a deterministic rate code, int32:
with m = encode(x) in [0, full] the sample's drive, each neuron integrates m per step and subtracts
full when it spikes:
  v(t) = v(t-1) + m;  s(t) = v(t) >= full;  v(t) -= full where s(t);  v(0) = full / 2.
Spike counts are round(m t / full), without a hard reset's loss. Not a chip population: verify
compares its spikes only.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import jax.numpy as jnp
import numpy as np

from snnc.backends.lava.specs import NeuronSpec, to_lava
from snnc.compiler.ir.neurons.base import Neurons, neuron_kind, static
from snnc.targets import Target


class SourceState(NamedTuple):
    v: jnp.ndarray
    s: jnp.ndarray  # bool


def rate_spike_trains(mant: np.ndarray, full: int, steps: int) -> np.ndarray:
    """The host's spike trains for drives (B, *shape): (B, steps, *shape), bool."""
    v = np.full(mant.shape, full // 2, np.int64)
    trains = []
    for _ in range(steps):
        v += mant
        spikes = v >= full
        v -= full * spikes
        trains.append(spikes)
    return np.stack(trains, axis=1)


@neuron_kind
class SpikeInput(Neurons):
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    full: int = static()
    scale: float = static()
    layer: str = static()
    kind: Literal["spike-source"] = static(default="spike-source")

    on_chip: ClassVar[bool] = False
    summary: ClassVar[str] = "host spike trains"
    input_role: ClassVar[str] = "host spike trains (input)"

    @property
    def vth(self) -> int:
        return self.full

    @property
    def v_init(self) -> int:
        return self.full // 2

    def init_state(self, batch: int) -> SourceState:
        return SourceState(jnp.full((batch, *self.shape), self.full // 2, jnp.int32),
                           jnp.zeros((batch, *self.shape), bool))

    def step(self, state: SourceState, a_in, drive, target: Target) -> SourceState:
        v = state.v + drive
        s = v >= self.full
        return SourceState(jnp.where(s, v - self.full, v), s)

    @staticmethod
    def probe(state: SourceState):
        return None, None

    def readout(self, v_out, counts, target: Target):
        return counts

    def violations(self, target: Target, where: str) -> list[str]:
        return [] if self.full == target.input_full else [f"{where}: full scale {self.full} != {target.input_full}"]

    def lava(self, drives: np.ndarray, steps: int, target: Target) -> NeuronSpec:
        """lava.proc.io.source.RingBuffer (PySendModelFixed) sends column (t - 1) % T at step t."""
        data = [np.moveaxis(to_lava(t, len(self.shape)), 0, -1).astype(np.int32)
                for t in rate_spike_trains(np.asarray(drives), self.full, steps)]
        return NeuronSpec(self.name, self.shape, "RingBuffer", dict(data=data[0]), tuple({"data": d} for d in data[1:]),
                          {}, (), graded=False)
