"""Structural invariants of a SpikingNet (or FloatNet), independent of any target: what a network
read from an artifact must satisfy before anything runs it. Target limits are check_limits'."""

from __future__ import annotations

import numpy as np


def structure_violations(net, integer: bool) -> list[str]:
    """Every broken invariant: unique names, input first with no incoming projections, each
    projection between known populations in network order (acyclic but for self-projections; only
    host sources may lack input), weight and
    bias shapes and dtypes (int32 for an integer net, float32 for the ANN)."""
    problems = []
    pops = {p.name: (i, p) for i, p in enumerate(net.populations)}
    if len(pops) != len(net.populations):
        problems.append("population names are not unique")
    if len(net.populations) < 2:
        return problems + ["a network needs an input and an output population"]
    dtype = np.int32 if integer else np.float32
    for i, p in enumerate(net.populations):
        if any(s < 1 for s in p.shape) or len(p.shape) not in (1, 3):
            problems.append(f"population {p.name!r}: shape {p.shape} is not (N,) or (H, W, C)")
        bias = getattr(p, "bias_mant" if integer else "bias", None)
        if bias is not None and i > 0 and (bias.dtype != dtype or np.broadcast_shapes(bias.shape, p.shape) != p.shape):
            problems.append(f"population {p.name!r}: bias {bias.dtype} {bias.shape} is not {np.dtype(dtype)} of shape {p.shape}")
        if i > 0 and not net.incoming(p.name) and getattr(p, "on_chip", True):
            problems.append(f"population {p.name!r} has no incoming projection")
    if net.incoming(net.populations[0].name):
        problems.append("the input population has incoming projections")
    for q in net.projections:
        where = f"projection {q.src!r} -> {q.dst!r}"
        if q.src not in pops or q.dst not in pops:
            problems.append(f"{where}: unknown population")
            continue
        (i, src), (j, dst) = pops[q.src], pops[q.dst]
        if i > j:  # i == j: a self-projection, the population's own spikes one step later
            problems.append(f"{where}: goes backwards in the population order (a cycle)")
        if q.weight.dtype != dtype:
            problems.append(f"{where}: weights are {q.weight.dtype}, not {np.dtype(dtype)}")
        problems += [f"{where}: {p}" for p in _geometry_problems(q, src.shape, dst.shape)]
    return problems


def _geometry_problems(q, src_shape, dst_shape) -> list[str]:
    if q.conv is None:
        expected = (int(np.prod(dst_shape)), int(np.prod(src_shape)))
        return [] if q.weight.shape == expected else [f"dense weight shape {q.weight.shape} is not {expected}"]
    if len(src_shape) != 3 or len(dst_shape) != 3 or q.weight.ndim != 4:
        return ["a convolution needs (H, W, C) populations and an HWIO kernel"]
    groups, (kh, kw, cin, cout) = q.conv.groups, q.weight.shape
    if groups < 1 or src_shape[2] % groups or cin * groups != src_shape[2] or cout != dst_shape[2] or cout % groups:
        return [f"kernel {q.weight.shape} with {groups} groups does not join {src_shape} to {dst_shape}"]
    if min(q.conv.strides) < 1 or min(min(p) for p in q.conv.pads) < 0:
        return ["strides must be >= 1 and pads >= 0"]
    out = [(src_shape[a] + sum(q.conv.pads[a]) - (kh, kw)[a]) // q.conv.strides[a] + 1 for a in (0, 1)]
    if tuple(out) != tuple(dst_shape[:2]):
        return [f"convolution output {tuple(out)} is not the destination's {dst_shape[:2]}"]
    return []

