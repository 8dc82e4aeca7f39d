"""Time-to-first-spike (TTFS) coding: the three kinds a windowed, linear TTFS network is made of
(compiler/passes/quantize_ttfs.py builds them; docs/semantics.md derives the timing).

  ttfs-source  the input, sent by the host (Lava: a RingBuffer): with m = encode(x) in [0, full]
               and x_T = round(window m / full), neuron i spikes once, at step 1 + window - x_T
               (x_T = 0: at step 1 + window, the "forced" zero).
  clock        (compiler/ir/neurons/host.py) host spike sources that fire once each, at fixed
               steps: they switch the ramps of the layers on and off.
  ttfs         Loihi's LIF (PyLifModelBitAcc) with du = 0 and dv = 0: u holds a ramp's slope (a
               current that loses only ceil(|u| / 4096) per step), v integrates it:
                 u(t) = decay(u(t-1), 4096 - 1) + (a_in << act_shift)   (wrapped into 24 bits)
                 v(t) = clip(v(t-1) + u(t), +-(2^23 - 1));  s(t) = v(t) > vth << vth_shift; v = 0 where s
               no bias, u(0) = v(0) = 0. The output population (vth at its maximum, never fires)
               is read as v at its read step (the end of its input window), latched in the state.

The sources and the output count steps in their state (t, a scalar); nothing else is added to
Lava's LIF, so verify compares u, v and spikes of every ttfs population against Lava's LIF.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import jax.numpy as jnp
import numpy as np

from snnc.backends.lava.specs import NeuronSpec, lava_shape
from snnc.compiler.ir.neurons.base import neuron_kind, static
from snnc.compiler.ir.neurons.host import HostSource, TimedSpikes
from snnc.compiler.ir.neurons.lif import LifRegisters, lif_step, threshold_and_bias_violations
from snnc.compiler.ir.npy import Npy
from snnc.targets import Target


class TtfsState(NamedTuple):
    u: jnp.ndarray
    v: jnp.ndarray
    s: jnp.ndarray  # bool
    t: jnp.ndarray  # int32 scalar
    reading: jnp.ndarray  # v at the read step (the output's answer), zero before it


def first_spike_steps(drive, full: int, window: int) -> jnp.ndarray:
    """The step at which each input neuron spikes: 1 + window - round(window m / full), m in [0, full]
    (int32: full * window stays far below 2^31)."""
    m = jnp.clip(jnp.asarray(drive, jnp.int32), 0, full)
    return 1 + window - (m * window + full // 2) // full


@neuron_kind
class TtfsSource(HostSource):
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    full: int = static()  # the drive that means the largest value (window)
    window: int = static()
    scale: float = static()
    layer: str = static()
    kind: Literal["ttfs-source"] = static(default="ttfs-source")

    summary: ClassVar[str] = "host spike times (one spike per neuron: step 1 + window - value)"
    input_role: ClassVar[str] = "host spike times (input)"

    def step(self, state: TimedSpikes, a_in, drive, target: Target) -> TimedSpikes:
        t = state.t + 1
        return TimedSpikes(t, t == first_spike_steps(drive, self.full, self.window))

    def violations(self, target: Target, where: str) -> list[str]:
        return [] if self.full == target.input_full else [f"{where}: full scale {self.full} != {target.input_full}"]

    def lava(self, drives: np.ndarray, steps: int, target: Target) -> NeuronSpec:
        at = np.asarray(first_spike_steps(drives, self.full, self.window))
        steps_axis = np.arange(1, steps + 1).reshape(steps, *([1] * len(self.shape)))
        return self._ring_buffer([steps_axis == a[None] for a in at])


@neuron_kind
class TtfsPopulation(LifRegisters):
    """LIF ramp neurons (module docstring); bias_mant is all zero (ramps come through the clock)."""
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    vth: int
    bias_mant: Npy  # int32 zeros: kept so that every LIF-based kind has the same registers
    bias_exp: int = static()
    read_step: int = static()  # the output's: the step whose v is its answer (0 for hidden layers)
    scale: float = static()
    layer: str = static()
    kind: Literal["ttfs"] = static(default="ttfs")

    summary: ClassVar[str] = "TTFS ramp LIF (du = dv = 0; first spike time carries the value)"
    bounded_current: ClassVar[bool] = False  # clock and self-inhibition currents are checked by the pass
    current_note: ClassVar[str] = ("ttfs currents: every neuron's summed |input weights| is at most 2^15 and its "
                                   "self-inhibition below 2^17 (quantize_ttfs)")

    def init_state(self, batch: int) -> TtfsState:
        zeros = jnp.zeros((batch, *self.shape), jnp.int32)
        return TtfsState(zeros, zeros, zeros.astype(bool), jnp.int32(0), zeros)

    def step(self, state: TtfsState, a_in, drive, target: Target) -> TtfsState:
        u, v, s = lif_step(state.u, state.v, a_in, self.bias(drive), self.vth, 0, 0, target)
        t = state.t + 1
        return TtfsState(u, v, s, t, jnp.where(t == self.read_step, v, state.reading))

    @staticmethod
    def reading(state: TtfsState):
        return state.reading

    def readout(self, v_out, counts, target: Target):
        return v_out

    def violations(self, target: Target, where: str) -> list[str]:
        return threshold_and_bias_violations(self, target, where)

    def lava(self, drives: np.ndarray | None, steps: int, target: Target) -> NeuronSpec:
        mants = self.lava_biases(drives)
        keywords = dict(shape=lava_shape(self.shape), vth=self.vth, bias_mant=mants[0], bias_exp=self.bias_exp,
                        u=0, v=0, du=0, dv=0, name=self.name)
        return NeuronSpec(self.name, self.shape, "LIF", keywords, (), {"u": 0, "v": 0}, ("u", "v"), graded=False)
