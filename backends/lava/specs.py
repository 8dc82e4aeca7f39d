"""Typed, Lava-free descriptions of the processes a SpikingNet becomes (numpy only, so the child
process that runs Lava unpickles them without importing JAX).

Layout: Lava's Conv reads (X, Y, C) = (W, H, C) while the IR is (H, W, C), so every 3-D population
lives in Lava with its first two axes swapped (lava_shape, to_lava, from_lava). Dense and Sparse
projections keep the IR's C-order flattening; their ports are viewed through transpose/flatten
and reshape/transpose (see build.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[1], shape[0], *shape[2:]) if len(shape) == 3 else tuple(shape)


def to_lava(x: np.ndarray, rank: int) -> np.ndarray:
    """Arrays whose last `rank` axes are an IR population -> the same in Lava's layout."""
    if rank != 3:
        return x
    lead = x.ndim - 3
    return np.swapaxes(x, lead, lead + 1)


from_lava = to_lava  # swapping two axes is its own inverse


def rate_spike_trains(mant: np.ndarray, full: int, steps: int) -> np.ndarray:
    """The host's input spike trains (IR SpikeInput) for mantissas (B, *shape): (B, steps, *shape)."""
    v = np.full(mant.shape, full // 2, np.int64)
    trains = []
    for _ in range(steps):
        v += mant
        spikes = v >= full
        v -= full * spikes
        trains.append(spikes)
    return np.stack(trains, axis=1)


@dataclass(frozen=True, eq=False)
class SourceSpec:
    """Host-generated input spikes: lava.proc.io.source.RingBuffer (PySendModelFixed), whose data
    (*Lava shape, T) it sends column (t - 1) % T at step t."""
    name: str
    ir_shape: tuple[int, ...]
    full: int

    def keywords(self, bias_mant: np.ndarray, steps: int) -> dict:
        trains = rate_spike_trains(bias_mant[None], self.full, steps)[0]  # (steps, *ir_shape)
        return dict(data=np.moveaxis(to_lava(trains, len(self.ir_shape)), 0, -1).astype(np.int32))


@dataclass(frozen=True, eq=False)
class LifSpec:
    """A population: lava.proc.lif.process.LIF, fixed_pt (PyLifModelBitAcc)."""
    name: str
    ir_shape: tuple[int, ...]
    vth: int
    bias_mant: np.ndarray  # IR layout, int32
    bias_exp: int
    v_init: int
    du: int
    dv: int

    def keywords(self, bias_mant: np.ndarray | None = None) -> dict:
        mant = self.bias_mant if bias_mant is None else bias_mant
        return dict(shape=lava_shape(self.ir_shape), vth=self.vth, bias_mant=to_lava(mant, len(self.ir_shape)),
                    bias_exp=self.bias_exp, u=0, v=self.v_init, du=self.du, dv=self.dv, name=self.name)


@dataclass(frozen=True, eq=False)
class SigmaDeltaSpec:
    """A population: lava.proc.sdn.process.SigmaDelta, fixed_pt (PySigmaDeltaModelFixed). Lava
    scales vth and bias by 2^state_exp itself; act_mode "relu" or "unit" (build.py maps it)."""
    name: str
    ir_shape: tuple[int, ...]
    vth: int
    bias_mant: np.ndarray  # IR layout, int32, payload units
    state_exp: int
    act_mode: str

    def keywords(self, bias_mant: np.ndarray | None = None) -> dict:
        mant = self.bias_mant if bias_mant is None else bias_mant
        return dict(shape=lava_shape(self.ir_shape), vth=self.vth, bias=to_lava(mant, len(self.ir_shape)),
                    state_exp=self.state_exp, spike_exp=0, cum_error=False, act_mode=self.act_mode, name=self.name)


@dataclass(frozen=True, eq=False)
class MatrixSpec:
    """Dense (dense weights) or Sparse (scipy CSR weights) over the IR's C-order flattening."""
    kind: str  # "dense" | "sparse"
    src: str
    dst: str
    src_shape: tuple[int, ...]  # IR shapes of the two populations
    dst_shape: tuple[int, ...]
    weights: object  # np.ndarray (n_dst, n_src) or scipy.sparse.csr_matrix
    weight_exp: int
    message_bits: int  # 0: binary spikes; > 0: graded payloads

    def keywords(self) -> dict:
        return dict(weights=self.weights, weight_exp=self.weight_exp, num_message_bits=self.message_bits)


@dataclass(frozen=True, eq=False)
class ConvSpec:
    """lava.proc.conv.process.Conv, fixed_pt: weight (C_out, kW, kH, C_in / groups), true convolution
    (the IR's cross-correlation kernel flipped), symmetric padding, (X, Y) = (W, H) order."""
    src: str
    dst: str
    src_shape: tuple[int, ...]
    dst_shape: tuple[int, ...]
    weight: np.ndarray
    padding: tuple[int, int]
    stride: tuple[int, int]
    groups: int
    message_bits: int

    def keywords(self) -> dict:
        return dict(weight=self.weight, input_shape=lava_shape(self.src_shape), padding=self.padding,
                    stride=self.stride, groups=self.groups, num_message_bits=self.message_bits)


@dataclass(frozen=True, eq=False)
class LavaGraph:
    populations: tuple[SourceSpec | LifSpec | SigmaDeltaSpec, ...]  # input first
    connections: tuple[MatrixSpec | ConvSpec, ...]
