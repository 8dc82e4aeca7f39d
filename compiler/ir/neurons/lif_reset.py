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

from snnc.backends.lava.specs import NeuronSpec, lava_shape
from snnc.compiler.ir.neurons.base import neuron_kind, static
from snnc.compiler.ir.neurons.lif import LifRegisters, LifState, lif_step, threshold_and_bias_violations
from snnc.compiler.ir.npy import Npy
from snnc.targets import Target


@neuron_kind
class LifResetPopulation(LifRegisters):
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    vth: int
    bias_mant: Npy  # int32, per neuron: the thermometer's staggered thresholds live here
    bias_exp: int = static()
    scale: float = static()
    layer: str = static()
    kind: Literal["lif-reset"] = static(default="lif-reset")

    summary: ClassVar[str] = "LIF reset every step (memoryless; spike when u + bias > vth << vth_shift)"

    def init_state(self, batch: int) -> LifState:
        zeros = jnp.zeros((batch, *self.shape), jnp.int32)
        return LifState(zeros, zeros, zeros.astype(bool))

    def step(self, state: LifState, a_in, drive, target: Target) -> LifState:
        zero = jnp.zeros_like(state.u)
        return LifState(*lif_step(zero, zero, a_in, self.bias(drive), self.vth, 0, 0, target))

    def violations(self, target: Target, where: str) -> list[str]:
        return threshold_and_bias_violations(self, target, where)

    def lava(self, drives: np.ndarray | None, steps: int, target: Target) -> NeuronSpec:
        mants = self.lava_biases(drives)
        keywords = dict(shape=lava_shape(self.shape), vth=self.vth, bias_mant=mants[0], bias_exp=self.bias_exp,
                        u=0, v=0, du=0, dv=0, reset_interval=1, reset_offset=0, name=self.name)
        return NeuronSpec(self.name, self.shape, "LIFReset", keywords, tuple({"bias_mant": m} for m in mants[1:]),
                          {"u": 0, "v": 0}, ("u", "v"), graded=False)
