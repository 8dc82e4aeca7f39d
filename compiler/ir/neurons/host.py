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


class _Scheduled(HostSource):
    """A host source whose neurons fire at fixed steps, the same for every sample: fires(t, steps)
    says which, for a step t (a JAX scalar) or a column of steps (numpy)."""
    steps: tuple[int, ...]  # per neuron: the step its schedule is defined by

    def fires(self, t, steps):
        raise NotImplementedError

    def step(self, state: TimedSpikes, a_in, drive, target: Target) -> TimedSpikes:
        t = state.t + 1
        return TimedSpikes(t, jnp.broadcast_to(self.fires(t, jnp.asarray(self.steps, jnp.int32)), state.s.shape))

    def violations(self, target: Target, where: str) -> list[str]:
        return [] if len(self.steps) == self.size and min(self.steps) >= 1 else [f"{where}: bad firing steps"]

    def lava(self, drives, steps: int, target: Target) -> NeuronSpec:
        return self._ring_buffer([self.fires(np.arange(1, steps + 1)[:, None], np.asarray(self.steps)[None])])


@neuron_kind
class Clock(_Scheduled):
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    fire_at: tuple[int, ...]  # per neuron, the one step it fires at (traced: schedules share a compiled scan)
    scale: float = static()
    layer: str = static()
    kind: Literal["clock"] = static(default="clock")

    summary: ClassVar[str] = "host clock (each neuron fires once, at a fixed step)"

    @property
    def steps(self) -> tuple[int, ...]:
        return self.fire_at

    def fires(self, t, steps):
        return t == steps


@neuron_kind
class Tonic(_Scheduled):
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    start: tuple[int, ...]  # per neuron, the first step it fires at, then every step (traced)
    scale: float = static()
    layer: str = static()
    kind: Literal["tonic"] = static(default="tonic")

    summary: ClassVar[str] = "host tonic source (each neuron fires at every step from a fixed one on)"

    @property
    def steps(self) -> tuple[int, ...]:
        return self.start

    def fires(self, t, steps):
        return t >= steps
