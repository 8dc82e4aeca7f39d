"""Host spike sources whose spikes do not depend on the sample (Lava: a RingBuffer each):
  clock  neuron k fires once, at step fire_at[k] (TTFS switches its layers' ramps with them)
  tonic  neuron k fires at every step from start[k] on (rate coding's biases: an always-on input
         whose weights are the biases, switched on when a layer's first input arrives)
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import jax.numpy as jnp
import numpy as np

from snnc.backends.lava.specs import NeuronSpec, to_lava
from snnc.compiler.ir.neurons.base import Neurons, neuron_kind, static
from snnc.targets import Target


class TimedSpikes(NamedTuple):
    t: jnp.ndarray  # int32 scalar: the step just taken
    s: jnp.ndarray  # bool (B, *shape)


class HostSource(Neurons):
    """What every host source shares: not chip populations, no u or v, a RingBuffer in Lava."""
    on_chip: ClassVar[bool] = False
    vth: ClassVar[int] = 0  # no threshold (layer tables and the manifest list one per population)

    def init_state(self, batch: int) -> TimedSpikes:
        return TimedSpikes(jnp.int32(0), jnp.zeros((batch, *self.shape), bool))

    @staticmethod
    def probe(state):
        return None, None

    def readout(self, v_out, counts, target: Target):
        return counts

    def _ring_buffer(self, trains: list[np.ndarray]) -> NeuronSpec:
        """RingBuffer (PySendModelFixed) sends column (t - 1) % T at step t; trains (steps, *shape) per sample."""
        data = [np.moveaxis(to_lava(t, len(self.shape)), 0, -1).astype(np.int32) for t in trains]
        return NeuronSpec(self.name, self.shape, "RingBuffer", dict(data=data[0]), tuple({"data": d} for d in data[1:]),
                          {}, (), graded=False)



@neuron_kind
class Clock(HostSource):
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    fire_at: tuple[int, ...] = static()  # per neuron, the one step it fires at
    scale: float = static()
    layer: str = static()
    kind: Literal["clock"] = static(default="clock")

    summary: ClassVar[str] = "host clock (each neuron fires once, at a fixed step)"

    def step(self, state: TimedSpikes, a_in, drive, target: Target) -> TimedSpikes:
        t = state.t + 1
        return TimedSpikes(t, jnp.broadcast_to(t == jnp.asarray(self.fire_at, jnp.int32), state.s.shape))

    def violations(self, target: Target, where: str) -> list[str]:
        return [] if len(self.fire_at) == self.size and min(self.fire_at) >= 1 else [f"{where}: bad firing steps"]

    def lava(self, drives, steps: int, target: Target) -> NeuronSpec:
        return self._ring_buffer([np.arange(1, steps + 1)[:, None] == np.asarray(self.fire_at)[None]])


@neuron_kind
class Tonic(HostSource):
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    start: tuple[int, ...] = static()  # per neuron, the first step it fires at (then every step)
    scale: float = static()
    layer: str = static()
    kind: Literal["tonic"] = static(default="tonic")

    summary: ClassVar[str] = "host tonic source (each neuron fires at every step from a fixed one on)"

    def step(self, state: TimedSpikes, a_in, drive, target: Target) -> TimedSpikes:
        t = state.t + 1
        return TimedSpikes(t, jnp.broadcast_to(t >= jnp.asarray(self.start, jnp.int32), state.s.shape))

    def violations(self, target: Target, where: str) -> list[str]:
        return [] if len(self.start) == self.size and min(self.start) >= 1 else [f"{where}: bad first steps"]

    def lava(self, drives, steps: int, target: Target) -> NeuronSpec:
        return self._ring_buffer([np.arange(1, steps + 1)[:, None] >= np.asarray(self.start)[None]])
