"""Loihi 2 sigma-delta neurons with graded spikes (Lava's SigmaDelta, PySigmaDeltaModelFixed), int32:
  sigma(t) = sigma(t-1) + a_in(t)                 a_in = sum_q (W_q s_q(t-1)) << weight_exp_q
  act(t) = relu(sigma(t) + (bias_mant << state_exp))       (no relu for the output population)
  delta = act(t) - act(t-1) + residue(t-1)
  sent = delta if |delta| >= (vth << state_exp) else 0;  residue(t) = delta - sent
  s(t) = sent >> state_exp                        the graded payload (floor shift)
sigma, act, residue start at 0. verify compares sigma as u and act as v; the output is read as act.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import jax.numpy as jnp
import numpy as np

from snnc.backends.lava.specs import NeuronSpec, lava_shape
from snnc.compiler.ir.neurons.base import Neurons, neuron_kind, static
from snnc.compiler.ir.npy import Npy
from snnc.targets import Target


class SigmaDeltaState(NamedTuple):
    sigma: jnp.ndarray
    act: jnp.ndarray
    residue: jnp.ndarray
    s: jnp.ndarray  # int32 payloads


def sigma_delta_step(sigma, act, residue, a_in, bias, vth, state_exp: int, relu: bool):
    """One timestep of Lava's fixed_pt SigmaDelta; returns (sigma, act, residue, payload), int32.
    bias and vth are in payload units (scaled by 2^state_exp here, as Lava's process does)."""
    sigma = sigma + a_in
    new_act = sigma + (bias << state_exp)
    if relu:
        new_act = jnp.maximum(new_act, 0)
    delta = new_act - act + residue
    sent = jnp.where(jnp.abs(delta) >= (jnp.int32(vth) << state_exp), delta, 0)
    return sigma, new_act, delta - sent, sent >> state_exp


@neuron_kind
class SigmaDeltaPopulation(Neurons):
    """Sigma-delta neurons (module docstring); bias_mant and vth are in payload units."""
    name: str = static()
    shape: tuple[int, ...] = static()
    role: str = static()
    vth: int  # delta threshold mantissa
    bias_mant: Npy  # int32 (the input population's is replaced by the sample's drive)
    state_exp: int = static()
    scale: float = static()
    layer: str = static()
    kind: Literal["sigma-delta"] = static(default="sigma-delta")

    graded: ClassVar[bool] = True
    current_note: ClassVar[str] = ("graded sums are not bounded statically: sigma and act stay within 24 bits "
                                   "for synaptic sums up to 4 times the largest seen in calibration")
    summary: ClassVar[str] = "sigma-delta, graded spikes (send when |delta| >= vth << state_exp)"

    @property
    def relu(self) -> bool:
        return self.role != "output"

    @property
    def exponent(self) -> int:
        return self.state_exp

    def init_state(self, batch: int) -> SigmaDeltaState:
        zeros = jnp.zeros((batch, *self.shape), jnp.int32)
        return SigmaDeltaState(zeros, zeros, zeros, zeros)

    def step(self, state: SigmaDeltaState, a_in, drive, target: Target) -> SigmaDeltaState:
        bias = jnp.asarray(self.bias_mant if drive is None else drive, jnp.int32)
        return SigmaDeltaState(*sigma_delta_step(state.sigma, state.act, state.residue, a_in, bias, self.vth,
                                                 self.state_exp, self.relu))

    @staticmethod
    def probe(state: SigmaDeltaState):
        return state.sigma, state.act

    def readout(self, v_out, counts, target: Target):
        return v_out

    def violations(self, target: Target, where: str) -> list[str]:
        problems = []
        if not target.sigma_delta:
            problems.append(f"{where}: {target.name} has no sigma-delta neurons")
        if not 0 <= self.state_exp <= target.state_exp_max:
            problems.append(f"{where}: state exponent {self.state_exp} outside [0, {target.state_exp_max}]")
        high = 2 ** (target.sd_bias_bits - 1) - 1
        if np.abs(self.bias_mant).max(initial=0) > high or not 0 <= self.vth <= high:
            problems.append(f"{where}: bias or delta threshold outside the signed {target.sd_bias_bits}-bit range")
        return problems

    def lava(self, drives: np.ndarray | None, steps: int, target: Target) -> NeuronSpec:
        mants = self.lava_biases(drives)
        keywords = dict(shape=lava_shape(self.shape), vth=self.vth, bias=mants[0], state_exp=self.state_exp,
                        spike_exp=0, cum_error=False, act_mode="relu" if self.relu else "unit", name=self.name)
        # Lava's SigmaDelta scales its bias by 2^state_exp when built: a Var set later is in those units
        later = tuple({"bias": (m << self.state_exp).astype(np.int32)} for m in mants[1:])
        reset = {"sigma": 0, "act": 0, "residue": 0, "error": 0}
        return NeuronSpec(self.name, self.shape, "SigmaDelta", keywords, later, reset, ("sigma", "act"), graded=True)
