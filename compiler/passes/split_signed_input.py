"""Inputs of either sign (standardized data, audio, ECG): each input value x is carried by two
input neurons, relu(x) and relu(-x), and every projection from the input reads them with weights
w and -w, so it receives w relu(x) - w relu(-x) = w x exactly.

Spikes carry non-negative values only: without this, the encoding clipped negative inputs to 0
and the network silently computed on other data. The pass runs where the calibration data has a
value below 0; the two neurons of value x are channels 2c and 2c + 1 (the C-order flat index
2i and 2i + 1), as InputEncoding.drive and FloatNet.forward lay them out (split_signs).
A max pooling that reads the input directly (TTFS) would take maxima per sign: refused.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnc.compiler.ir.spiking import FloatNet
from snnc.errors import SnncError


def split_signed_input(net: FloatNet, lowest: float | None) -> tuple[FloatNet, list[str]]:
    """lowest: the calibration data's smallest value (None without data: nothing is known)."""
    if lowest is None or lowest >= 0:
        return net, []
    inp = net.populations[0]
    readers = [q for q in net.projections if q.src == inp.name]
    if any(net.population(q.dst).role == "max" for q in readers):
        raise SnncError(f"the calibration data has values below 0 (down to {lowest:.3g}) and a max pooling reads "
                        "the input directly; snnc pools signed inputs only after a layer")
    doubled = (*inp.shape[:-1], 2 * inp.shape[-1])
    pops = (dataclasses.replace(inp, shape=doubled, bias=np.zeros(doubled, np.float32)), *net.populations[1:])
    projections = tuple(q.replace(weight=_both_signs(q.weight, q.conv is not None)) if q.src == inp.name else q
                        for q in net.projections)
    note = (f"input: the calibration data has values below 0 (down to {lowest:.3g}): each input value is carried by "
            f"two neurons, relu(x) and relu(-x), read with weights w and -w ({inp.size} -> {2 * inp.size} inputs)")
    return FloatNet(pops, projections, net.notes, signed_input=True), [note]


def _both_signs(weight: np.ndarray, conv: bool) -> np.ndarray:
    """Each source value's weights, then their negation, for its two neurons: dense (n_dst, n_src)
    along the source axis, HWIO kernels along the input channels (within every group)."""
    signs = np.array([1, -1], weight.dtype)
    return np.kron(weight, signs.reshape(1, 1, 2, 1) if conv else signs.reshape(1, 2))
