"""Memoryless LIF neurons: Lava's LIFReset (PyLifResetModelBitAcc) with reset_interval 1, so u and v
are zeroed before every update and each step is a pure function of that step's input, int32:
  u(t) = a_in << act_shift, wrapped once into (-2^23, 2^23]      (decay of a zero u is zero)
  v(t) = clip(u(t) + (bias_mant << bias_exp), -(2^23-1), 2^23-1)
  s(t) = v(t) > (vth << vth_shift);  v(t) = 0 where s(t)
With per-neuron biases staggered over n copies of an activation, the copies that fire are a
thermometer code of it (population coding): a layer answers one step after its inputs.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import jax.numpy as jnp
import numpy as np

from snnc.backends.lava.specs import NeuronSpec, lava_shape, to_lava
from snnc.compiler.ir.neurons.base import Neurons, neuron_kind, static
from snnc.compiler.ir.neurons.lif import LifState, lif_step, shift, threshold_and_bias_violations
from snnc.compiler.ir.npy import Npy
from snnc.targets import Target


@neuron_kind
class LifResetPopulation(Neurons):
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    vth: int
    bias_mant: Npy  # int32, per neuron: the thermometer's staggered thresholds live here
    bias_exp: int = static()
    scale: float = static()
    layer: str = static()
    kind: Literal["lif-reset"] = static(default="lif-reset")

    bounded_current: ClassVar[bool] = True
    summary: ClassVar[str] = "LIF reset every step (memoryless; spike when u + bias > vth << vth_shift)"

    @property
    def exponent(self) -> int:
        return self.bias_exp

    def init_state(self, batch: int) -> LifState:
        zeros = jnp.zeros((batch, *self.shape), jnp.int32)
        return LifState(zeros, zeros, zeros.astype(bool))

    def step(self, state: LifState, a_in, drive, target: Target) -> LifState:
        bias = shift(jnp.asarray(self.bias_mant if drive is None else drive, jnp.int32), self.bias_exp)
        zero = jnp.zeros_like(state.u)
        return LifState(*lif_step(zero, zero, a_in, bias, self.vth, 0, 0, target))

    @staticmethod
    def probe(state: LifState):
        return state.u, state.v

    def readout(self, v_out, counts, target: Target):
        return counts * (int(self.vth) << target.vth_shift) + v_out

    def violations(self, target: Target, where: str) -> list[str]:
        return threshold_and_bias_violations(self, target, where)

    def lava(self, drives: np.ndarray | None, steps: int, target: Target) -> NeuronSpec:
        rank = len(self.shape)
        mants = [np.broadcast_to(self.bias_mant, self.shape)] if drives is None else list(drives)
        mants = [to_lava(np.asarray(m, np.int32), rank) for m in mants]
        keywords = dict(shape=lava_shape(self.shape), vth=self.vth, bias_mant=mants[0], bias_exp=self.bias_exp,
                        u=0, v=0, du=0, dv=0, reset_interval=1, reset_offset=0, name=self.name)
        return NeuronSpec(self.name, self.shape, "LIFReset", keywords, tuple({"bias_mant": m} for m in mants[1:]),
                          {"u": 0, "v": 0}, ("u", "v"), graded=False)
