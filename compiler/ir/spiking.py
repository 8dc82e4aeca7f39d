"""The spiking IR: populations of neurons joined by projections.

Two stages share the structure:
  FloatNet  - float weights and biases, the ANN re-expressed over populations (one population per
              ReLU output, plus the input and the output); forward() is the ANN.
  SpikingNet - the same graph with signed integer weights and Loihi LIF parameters; its integer
              semantics are below and in docs/semantics.md.

Integer semantics of a SpikingNet (all state int32, t = 1, 2, ...):
  a_in[p](t) = sum over projections q -> p of (W_q * s_q(t-1)) << weight_exp_q   (one-step delay)
  u(t) = decay(u(t-1), du) + (a_in << 6), wrapped once into (-2^23, 2^23]
  v(t) = clip(decay(v(t-1), dv) + u(t) + (bias_mant << bias_exp), -(2^23-1), 2^23-1)
  s(t) = v(t) > (vth << 6);  v(t) = 0 where s(t)            (hard reset)
  decay(x, d) = sign(x) * ((|x| * (4096 - d)) >> 12)           (rounds toward zero)
  u(0) = 0, v(0) = v_init, s(0) = 0.
The input population has no incoming projections: its bias_mant is set per sample by encode();
compiled networks use a SpikeInput instead (host-generated spike trains, below).
The output population is read out as spikes_total * (vth << 6) + v(T).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from snnc.compiler.ir.float_graph import Pads, conv2d, HIGHEST


@dataclass(frozen=True, eq=False)
class ConvGeometry:
    strides: tuple[int, int]
    pads: Pads
    groups: int


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from population src to dst.

    Dense: weight (n_dst, n_src) over the C-order flattening of both populations.
    Conv:  weight HWIO (kh, kw, C_src / groups, C_dst), cross-correlation with explicit pads.
    In a SpikingNet the weight holds integers (int32) and weight_exp their shift.
    """
    src: str
    dst: str
    weight: np.ndarray
    conv: ConvGeometry | None = None
    weight_exp: int = 0

    @property
    def kind(self) -> str:
        return "dense" if self.conv is None else "conv"

    def apply(self, x, src_shape: tuple[int, ...], dst_shape: tuple[int, ...]):
        """The synaptic sum for a batch x (B, *src_shape): int32 when x is int32 (graded spikes), else
        float32 (exact for binary spikes under the integer bound check_limits proves)."""
        w = jnp.asarray(self.weight, jnp.int32 if x.dtype == jnp.int32 else jnp.float32)
        if self.conv is None:
            flat = jnp.reshape(x, (x.shape[0], -1))
            y = jnp.matmul(flat, w.T, precision=HIGHEST)
        else:
            y = conv2d(x, w, self.conv.strides, self.conv.pads, self.conv.groups)
        return jnp.reshape(y, (x.shape[0], *dst_shape))

    def replace(self, **changes) -> "Projection":
        fields = dict(src=self.src, dst=self.dst, weight=self.weight, conv=self.conv, weight_exp=self.weight_exp)
        return Projection(**{**fields, **changes})


@dataclass(frozen=True, eq=False)
class FloatPopulation:
    name: str
    shape: tuple[int, ...]
    role: str  # "input" | "hidden" (ReLU) | "output" (linear)
    bias: np.ndarray  # float32, shape == self.shape
    layer: str  # the float-graph layer whose output this population carries


@dataclass(frozen=True, eq=False)
class FloatNet:
    populations: tuple[FloatPopulation, ...]  # topological order, input first, output last
    projections: tuple[Projection, ...]
    notes: tuple[str, ...] = ()

    def population(self, name: str):
        return next(p for p in self.populations if p.name == name)

    def incoming(self, name: str) -> list[Projection]:
        return [q for q in self.projections if q.dst == name]

    def forward(self, x) -> dict[str, jnp.ndarray]:
        """Every population's activation (the ANN) for a batch x (B, *input shape)."""
        shapes = {p.name: p.shape for p in self.populations}
        values = {}
        for pop in self.populations:
            if pop.role == "input":
                values[pop.name] = jnp.asarray(x, jnp.float32)
                continue
            pre = sum((q.apply(values[q.src], shapes[q.src], pop.shape) for q in self.incoming(pop.name)),
                      jnp.asarray(pop.bias))
            values[pop.name] = jnp.maximum(pre, 0) if pop.role == "hidden" else pre
        return values


class _Neurons:
    """Shared by every population kind: the neuron count of its shape."""
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True, eq=False)
class LifPopulation(_Neurons):
    """Neurons of Loihi's LIF model (see the module docstring); arrays are per neuron (self.shape)."""
    name: str
    shape: tuple[int, ...]
    role: str
    vth: int  # threshold mantissa; spikes when v > vth << 6
    bias_mant: np.ndarray  # int32 (ignored for the input population: set by encode())
    bias_exp: int
    v_init: int
    du: int
    dv: int
    scale: float  # float activation lambda that maps to rate rho (for reports)
    layer: str

    @property
    def bias_v(self) -> np.ndarray:
        """The bias added to v every step, per neuron: bias_mant << bias_exp (int64, self.shape)."""
        return np.broadcast_to(self.bias_mant, self.shape).astype(np.int64) << self.bias_exp


@dataclass(frozen=True, eq=False)
class SpikeInput(_Neurons):
    """Input spike trains generated on the host (Lava: a RingBuffer), a deterministic rate code:
    with m = encode(x) in [0, full], each neuron integrates m per step and subtracts full when it
    spikes (int32): v(t) = v(t-1) + m; s(t) = v(t) >= full; v(t) -= full where s(t); v(0) = full / 2.
    Spike counts are round(m t / full), without the hard reset's loss."""
    name: str
    shape: tuple[int, ...]
    role: str
    full: int
    scale: float
    layer: str

    @property
    def vth(self) -> int:
        return self.full

    @property
    def v_init(self) -> int:
        return self.full // 2


@dataclass(frozen=True, eq=False)
class SigmaDeltaPopulation(_Neurons):
    """Loihi 2 sigma-delta neurons with graded spikes (lava.proc.sdn SigmaDelta, fixed_pt), int32:
      sigma(t) = sigma(t-1) + a_in(t)               a_in = sum_q (W_q s_q(t-1)) << weight_exp_q
      act(t) = relu(sigma(t) + (bias_mant << state_exp))     (no relu for the output population)
      delta = act(t) - act(t-1) + residue(t-1)
      sent = delta if |delta| >= (vth << state_exp) else 0;  residue(t) = delta - sent
      s(t) = sent >> state_exp                      the graded payload (floor shift)
    sigma, act, residue start at 0. Traces report sigma as u and act as v."""
    name: str
    shape: tuple[int, ...]
    role: str
    vth: int  # delta threshold mantissa (in payload units)
    bias_mant: np.ndarray  # int32, in payload units (the input population's is set by encode())
    state_exp: int
    scale: float
    layer: str

    @property
    def relu(self) -> bool:
        return self.role != "output"


@dataclass(frozen=True, eq=False)
class InputEncoding:
    """Input x (float) -> bias_mant = clip(round(x * gain), 0, max_mant) of the input neurons."""
    gain: float
    max_mant: int


@dataclass(frozen=True, eq=False)
class SpikingNet:
    populations: tuple[SpikeInput | LifPopulation | SigmaDeltaPopulation, ...]
    projections: tuple[Projection, ...]
    encoding: InputEncoding
    notes: tuple[str, ...] = ()

    @property
    def input(self) -> LifPopulation:
        return self.populations[0]

    @property
    def output(self) -> LifPopulation:
        return self.populations[-1]

    def population(self, name: str) -> LifPopulation:
        return next(p for p in self.populations if p.name == name)

    def incoming(self, name: str) -> list[Projection]:
        return [q for q in self.projections if q.dst == name]

    @property
    def neuron(self) -> str:
        return "sigma-delta" if isinstance(self.input, SigmaDeltaPopulation) else "lif"

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Input bias mantissas (int32) for a batch of float inputs."""
        mant = np.rint(np.asarray(x, np.float64) * self.encoding.gain)
        return np.clip(mant, 0, self.encoding.max_mant).astype(np.int32)
