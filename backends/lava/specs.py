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


@dataclass(frozen=True, eq=False)
class NeuronSpec:
    """One population as a stock Lava process, built by its neuron kind (compiler/ir/neurons):
    the process class name, its constructor keywords for the first sample, the Vars to set before
    each later sample (its input) and the state Vars reset to constants then, and the two Vars
    verify reads as u and v (none for a host spike source)."""
    name: str
    ir_shape: tuple[int, ...]
    process: str  # a key of build.PROCESSES
    keywords: dict  # Lava layout
    later_samples: tuple[dict[str, np.ndarray], ...]  # samples 2..B: Var name -> value (Lava layout)
    reset: dict[str, int]  # state Var -> the constant it restarts from
    probes: tuple[str, ...]  # (u Var, v Var), or () for spikes only
    graded: bool  # spikes are int32 payloads


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
    populations: tuple[NeuronSpec, ...]  # input first
    connections: tuple[MatrixSpec | ConvSpec, ...]
