"""Loihi's LIF neuron (Lava's LIF, PyLifModelBitAcc), all state int32, t = 1, 2, ...:
  u(t) = decay(u(t-1), du) + (a_in << act_shift), wrapped once into (-2^23, 2^23]
  v(t) = clip(decay(v(t-1), dv) + u(t) + (bias_mant << bias_exp), -(2^23-1), 2^23-1)
  s(t) = v(t) > (vth << vth_shift);  v(t) = 0 where s(t)              (hard reset)
  decay(x, d) = sign(x) * ((|x| * (4096 - d)) >> 12)                  (rounds toward zero)
  u(0) = 0, v(0) = v_init. The decay of u uses d = du + 1 (Lava's ds_offset): du = 0 still decays.
Only int32: the product |x| * c (|x| < 2^24, c <= 4096) is split so nothing leaves int32:
(|x| * c) >> 12 == (|x| >> 12) * c + (((|x| & 4095) * c) >> 12).
As the output population it never spikes in practice (vth at its maximum): read as
spikes * (vth << vth_shift) + v.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import jax.numpy as jnp
import numpy as np

from snnc.backends.lava.specs import NeuronSpec, lava_shape
from snnc.compiler.ir.neurons.base import Neurons, neuron_kind, static
from snnc.compiler.ir.npy import Npy
from snnc.targets import Target


class LifState(NamedTuple):
    u: jnp.ndarray
    v: jnp.ndarray
    s: jnp.ndarray  # bool


def decay(x, factor, target: Target):
    """sign(x) * ((|x| * factor) >> decay_bits): multiply by factor / 2^decay_bits toward zero."""
    bits = target.decay_bits
    mag = jnp.abs(x)
    c = jnp.int32(factor)
    low = (mag & jnp.int32((1 << bits) - 1)) * c
    return jnp.sign(x) * ((mag >> bits) * c + (low >> bits))


def lif_step(u, v, a_in, bias, vth, du: int, dv: int, target: Target):
    """One timestep; returns (u, v, spikes). All arguments int32 (vth may be a scalar)."""
    unity = 1 << target.decay_bits
    u = decay(u, unity - (du + 1), target) + (a_in << target.act_shift)
    half = jnp.int32(target.u_wrap)
    u = jnp.where(u > half, u - 2 * half, jnp.where(u <= -half, u + 2 * half, u))
    v = decay(v, unity - dv, target) + u + bias
    v = jnp.clip(v, -target.uv_max, target.uv_max)
    spikes = v > (jnp.int32(vth) << target.vth_shift)
    return u, jnp.where(spikes, 0, v), spikes


def threshold_and_bias_violations(pop, target: Target, where: str) -> list[str]:
    """The limits of Loihi's LIF registers on vth, bias_mant and bias_exp (any kind built on LIF)."""
    low, high = target.bias_mant_range
    problems = []
    if not 0 <= pop.vth <= target.vth_max:
        problems.append(f"{where}: threshold {pop.vth} outside [0, {target.vth_max}]")
    if pop.bias_mant.min(initial=0) < low or pop.bias_mant.max(initial=0) > high:
        problems.append(f"{where}: bias mantissa outside [{low}, {high}]")
    if not 0 <= pop.bias_exp <= target.bias_exp_max:
        problems.append(f"{where}: bias exponent {pop.bias_exp} outside [0, {target.bias_exp_max}]")
    return problems


def shift(mant, exp: int):
    return (mant << exp) if exp >= 0 else (mant >> -exp)


class LifRegisters(Neurons):
    """What every kind built on Loihi's LIF compartment shares: u and v registers, a bias mantissa
    shifted by bias_exp, the threshold compare, the readout of an output that (practically) never
    spikes."""
    bounded_current: ClassVar[bool] = True

    @property
    def exponent(self) -> int:
        return self.bias_exp

    def bias(self, drive):
        """The bias added to v each step (int32): the population's own, or the sample's drive."""
        return shift(jnp.asarray(self.bias_mant if drive is None else drive, jnp.int32), self.bias_exp)

    @staticmethod
    def probe(state: LifState):
        return state.u, state.v

    def readout(self, v_out, counts, target: Target):
        return counts * (int(self.vth) << target.vth_shift) + v_out


@neuron_kind
class LifPopulation(LifRegisters):
    """Neurons of Loihi's LIF model (module docstring); arrays are per neuron (self.shape)."""
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()  # "input" | "hidden" | "output"
    vth: int  # threshold mantissa; spikes when v > vth << vth_shift
    bias_mant: Npy  # int32 (the input population's is replaced by the sample's drive)
    bias_exp: int = static()
    v_init: int
    du: int  # traced, not static: populations that differ only in their leaks share one compiled scan
    dv: int
    scale: float = static()  # the float activation lambda that maps to the maximal rate (reports)
    layer: str = static()
    kind: Literal["lif"] = static(default="lif")

    summary: ClassVar[str] = "LIF (du, dv decays; hard reset; spike when v > vth << vth_shift)"

    @property
    def bias_v(self) -> np.ndarray:
        """The bias added to v every step, per neuron: bias_mant << bias_exp (int64, self.shape)."""
        return np.broadcast_to(self.bias_mant, self.shape).astype(np.int64) << self.bias_exp

    def init_state(self, batch: int) -> LifState:
        zeros = jnp.zeros((batch, *self.shape), jnp.int32)
        return LifState(zeros, jnp.full((batch, *self.shape), self.v_init, jnp.int32), zeros.astype(bool))

    def step(self, state: LifState, a_in, drive, target: Target) -> LifState:
        return LifState(*lif_step(state.u, state.v, a_in, self.bias(drive), self.vth, self.du, self.dv, target))

    def current_limit(self, target: Target) -> int:
        return target.max_current(self.du)

    def violations(self, target: Target, where: str) -> list[str]:
        problems = threshold_and_bias_violations(self, target, where)
        for name, value in (("du", self.du), ("dv", self.dv)):
            if not 0 <= value < 2 ** target.decay_bits:
                problems.append(f"{where}: {name} {value} outside [0, {2 ** target.decay_bits - 1}]")
        if abs(self.v_init) > target.uv_max:
            problems.append(f"{where}: initial potential {self.v_init} beyond +-{target.uv_max}")
        return problems

    def lava(self, drives: np.ndarray | None, steps: int, target: Target) -> NeuronSpec:
        mants = self.lava_biases(drives)
        keywords = dict(shape=lava_shape(self.shape), vth=self.vth, bias_mant=mants[0], bias_exp=self.bias_exp,
                        u=0, v=self.v_init, du=self.du, dv=self.dv, name=self.name)
        return NeuronSpec(self.name, self.shape, "LIF", keywords, tuple({"bias_mant": m} for m in mants[1:]),
                          {"u": 0, "v": self.v_init}, ("u", "v"), graded=False)
