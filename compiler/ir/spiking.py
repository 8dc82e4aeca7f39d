"""The spiking IR: populations of neurons joined by projections.

Two stages share the structure:
  FloatNet   - float weights and biases, the ANN re-expressed over populations (one population per
               ReLU output, plus the input and the output); forward() is the ANN.
  SpikingNet - the same graph with signed integer weights and populations of a neuron kind
               (compiler/ir/neurons: each kind states its integer semantics, state and step).

Every projection delays by one step: a_in[p](t) = sum over q -> p of (W_q s_q(t-1)) << weight_exp_q.
The first population is the input (driven per sample by encode()), the last the output.
Both nets are JAX pytrees: weights, biases and thresholds are traced values, names, shapes and
exponents are static, so the simulator compiles once per network structure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import ConfigDict

from snnc.compiler.ir.float_graph import Pads, conv2d, HIGHEST
from snnc.compiler.ir.neurons import KINDS, Population
from snnc.compiler.ir.neurons.base import static
from snnc.compiler.ir.neurons.lif import LifPopulation
from snnc.compiler.ir.neurons.lif_reset import LifResetPopulation
from snnc.compiler.ir.neurons.sigma_delta import SigmaDeltaPopulation
from snnc.compiler.ir.neurons.spike_source import SpikeInput
from snnc.compiler.ir.npy import Npy
from snnc.runtime.devices import padded_rows

STRICT = ConfigDict(strict=True, extra="forbid")  # how the artifact's JSON is validated



def path_depths(net, longest: bool = True) -> dict[str, int]:
    """Per population of a FloatNet or SpikingNet (sources before readers), the number of
    projections on its longest (or shortest) path from a source (self-projections aside). Every
    projection delays by one step, so a population's first input arrives at step shortest + 1,
    and no coding can answer before step d + 1, d the output's longest depth."""
    pick = max if longest else min
    depth = {}
    for pop in net.populations:
        sources = [depth[q.src] for q in net.incoming(pop.name) if q.src != pop.name]
        depth[pop.name] = 1 + pick(sources) if sources else 0  # the input and other sources: 0
    return depth

@dataclass(frozen=True)
class ConvGeometry:
    __pydantic_config__ = STRICT
    strides: tuple[int, int]
    pads: Pads
    groups: int


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from population src to dst.

    Dense: weight (n_dst, n_src) over the C-order flattening of both populations.
    Conv:  weight HWIO (kh, kw, C_src / groups, C_dst), cross-correlation with explicit pads.
    In a SpikingNet the weight holds integers (int32) and weight_exp their shift.
    """
    __pydantic_config__ = STRICT
    src: str = static()
    dst: str = static()
    weight: Npy
    conv: ConvGeometry | None = static(default=None)
    weight_exp: int = static(default=0)

    @property
    def kind(self) -> str:
        return "dense" if self.conv is None else "conv"

    @property
    def pointwise(self) -> bool:
        """A convolution of neuron i onto neuron i alone (1x1, one group per channel, stride 1,
        unpadded): a per-channel product."""
        return (self.conv is not None and self.weight.shape[:3] == (1, 1, 1) and self.conv.groups == self.weight.shape[3]
                and self.conv.strides == (1, 1) and self.conv.pads == ((0, 0), (0, 0)))

    def apply(self, x, src_shape: tuple[int, ...], dst_shape: tuple[int, ...]):
        """The synaptic sum for a batch x (B, *src_shape): int32 when x is int32 (graded spikes), else
        float32 (exact for binary spikes under the integer bound check_limits proves)."""
        w = jnp.asarray(self.weight, jnp.int32 if x.dtype == jnp.int32 else jnp.float32)
        if self.conv is None:
            flat = jnp.reshape(x, (x.shape[0], -1))
            one_source = w.shape[1] == 1  # a one-neuron source (a tonic bias): an outer product
            y = flat * w[:, 0] if one_source else jnp.matmul(flat, w.T, precision=HIGHEST)
        elif self.pointwise:
            y = x * jnp.reshape(w, (-1,))
        else:
            y = conv2d(x, w, self.conv.strides, self.conv.pads, self.conv.groups)
        return jnp.reshape(y, (x.shape[0], *dst_shape))

    def replace(self, **changes) -> "Projection":
        return dataclasses.replace(self, **changes)



def one_to_one(src: str, dst: str, shape: tuple[int, ...], weight: np.ndarray, weight_exp: int = 0) -> Projection:
    """Neuron i of src onto neuron i of dst (same shape) only, weight per channel: a 1x1 conv with
    one group per channel for (H, W, C) populations, a diagonal matrix for flat ones."""
    weight = np.asarray(weight)
    if len(shape) == 3:
        return Projection(src, dst, np.broadcast_to(weight, shape[-1:]).reshape(1, 1, 1, shape[-1]).copy(),
                          ConvGeometry((1, 1), ((0, 0), (0, 0)), shape[-1]), weight_exp)
    return Projection(src, dst, np.diag(np.broadcast_to(weight, shape[:1])), weight_exp=weight_exp)


@dataclass(frozen=True, eq=False)
class FloatPopulation:
    __pydantic_config__ = STRICT
    name: str
    shape: tuple[int, ...]
    role: str  # "input" | "hidden" (ReLU) | "output" (linear) | "max" (window maxima of its one source)
    bias: Npy  # float32, shape == self.shape
    layer: str  # the float-graph layer whose output this population carries
    cap: float | None = None  # a hidden population's ceiling: min(relu(z), cap), a capped ReLU (relu6) kept whole

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def activation(self, pre, xp=np):
        """relu(pre), at most cap."""
        positive = xp.maximum(pre, 0)
        return positive if self.cap is None else xp.minimum(positive, self.cap)


FORWARD_ROWS = 64  # samples per compiled ANN forward pass (FloatNet.pre_activation_batches)


def split_signs(x, xp=np):
    """x (B, ..., C) -> (B, ..., 2C): channel 2c is relu(x_c), channel 2c + 1 is relu(-x_c)."""
    both = xp.stack([xp.maximum(x, 0), xp.maximum(-x, 0)], axis=-1)
    return xp.reshape(both, (*x.shape[:-1], 2 * x.shape[-1]))


@dataclass(frozen=True, eq=False)
class FloatNet:
    __pydantic_config__ = STRICT
    populations: tuple[FloatPopulation, ...]  # topological order, input first, output last
    projections: tuple[Projection, ...]
    notes: tuple[str, ...] = ()
    signed_input: bool = False  # each input value x is two input neurons, relu(x) and relu(-x) (split_signs)

    def population(self, name: str):
        return next(p for p in self.populations if p.name == name)

    def incoming(self, name: str) -> list[Projection]:
        return [q for q in self.projections if q.dst == name]

    def pre_activation_batches(self, x: np.ndarray):
        """forward(x, before_relu=True) on the host, FORWARD_ROWS samples at a time: per piece of
        x, every population's values as NumPy arrays (one compiled program for any number of
        samples: a short last piece is padded with zero rows, which are dropped)."""
        for lo in range(0, len(x), FORWARD_ROWS):
            piece = np.asarray(x[lo:lo + FORWARD_ROWS], np.float32)
            outputs = self._jitted_pre_activations(padded_rows(piece, FORWARD_ROWS))
            yield {name: np.asarray(values)[:len(piece)] for name, values in outputs.items()}

    @cached_property
    def _jitted_pre_activations(self):
        return jax.jit(lambda x: self.forward(x, before_relu=True))

    def forward(self, x, before_relu: bool = False) -> dict[str, jnp.ndarray]:
        """Every population's activation (the ANN) for a batch x (B, *sample shape: the input population's, or
        half its channels with signed_input); with before_relu, a hidden population's pre-activation instead (sum plus bias)."""
        shapes = {p.name: p.shape for p in self.populations}
        values, returned = {}, {}
        for pop in self.populations:
            if pop.role == "input":
                x = jnp.asarray(x, jnp.float32)
                values[pop.name] = split_signs(x, jnp) if self.signed_input else x
                continue
            if pop.role == "max":  # the maximum over each window of its one projection (stride, kernel size, pads)
                (q,) = self.incoming(pop.name)
                window = (1, *q.weight.shape[:2], 1)
                values[pop.name] = jax.lax.reduce_window(values[q.src], -jnp.inf, jax.lax.max, window,
                                                         (1, *q.conv.strides, 1), ((0, 0), *q.conv.pads, (0, 0)))
                continue
            pre = sum((q.apply(values[q.src], shapes[q.src], pop.shape) for q in self.incoming(pop.name)),
                      jnp.asarray(pop.bias))
            values[pop.name] = pop.activation(pre, jnp) if pop.role == "hidden" else pre
            if before_relu:
                returned[pop.name] = pre
        return values | returned


@dataclass(frozen=True)
class InputEncoding:
    """Input x (float) -> the input population's drive m = clip(round(x * gain), 0, max_mant), one
    per value; with levels n > 1, a thermometer code instead: n values per input value (along the
    last axis), value k being max_mant where x * gain > (2k + 1) max_mant / (2n), else 0."""
    __pydantic_config__ = STRICT
    gain: float
    max_mant: int
    levels: int = 1
    signed: bool = False  # x is first split into relu(x), relu(-x) along the last axis (split_signs)

    def drive(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        m = (split_signs(x) if self.signed else x) * self.gain
        if self.levels == 1:
            return np.clip(np.rint(m), 0, self.max_mant).astype(np.int32)
        steps = (2 * np.arange(self.levels) + 1) * self.max_mant / (2 * self.levels)
        code = (m[..., None] > steps) * self.max_mant
        return code.reshape(*m.shape[:-1], m.shape[-1] * self.levels).astype(np.int32)


@jax.tree_util.register_dataclass
@dataclass(frozen=True, eq=False)
class SpikingNet:
    __pydantic_config__ = STRICT
    populations: tuple[Population, ...]
    projections: tuple[Projection, ...]
    encoding: InputEncoding = static()
    notes: tuple[str, ...] = static(default=())

    @property
    def input(self):
        return self.populations[0]

    @property
    def output(self):
        return self.populations[-1]

    def population(self, name: str):
        return next(p for p in self.populations if p.name == name)

    def incoming(self, name: str) -> list[Projection]:
        return [q for q in self.projections if q.dst == name]

    @property
    def resets_by_subtraction(self) -> bool:
        """Rate coding's reset by subtraction (compiler/passes/quantize.py): LIF populations that
        project onto themselves."""
        return any(q.src == q.dst and self.population(q.src).kind == "lif" for q in self.projections)

    def last_readers(self) -> dict[str, int]:
        """Per population that feeds others, the index of the last population reading it."""
        index = {p.name: i for i, p in enumerate(self.populations)}
        last: dict[str, int] = {}
        for q in self.projections:
            last[q.src] = max(last.get(q.src, 0), index[q.dst])
        return last

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one input sample (the input population's, unless the encoding expands it)."""
        *lead, last = self.input.shape
        return (*lead, last // self.encoding.levels // (2 if self.encoding.signed else 1))

    def encode(self, x: np.ndarray) -> np.ndarray:
        """The input population's drive (int32) for a batch of float inputs."""
        return self.encoding.drive(x)


__all__ = ["ConvGeometry", "Projection", "FloatPopulation", "FloatNet", "InputEncoding", "SpikingNet", "KINDS",
           "SpikeInput", "LifPopulation", "SigmaDeltaPopulation", "LifResetPopulation"]
