"""An independent plain-numpy int64 model of the SpikingNet semantics, written from Lava's
fixed_pt LIF/Dense source (not from snnc's JAX code): per-neuron Python-int style arithmetic in
int64, explicit loops for convolution."""

from __future__ import annotations

import numpy as np

UNITY, SHIFT, WRAP, VMAX = 4096, 12, 2 ** 23, 2 ** 23 - 1


def decay(x: np.ndarray, factor: int) -> np.ndarray:
    product = x.astype(np.int64) * factor
    return np.sign(product) * (np.abs(product) // UNITY)


def lif(u, v, a_in, bias, vth, du, dv):
    u = decay(u, UNITY - (du + 1)) + a_in.astype(np.int64) * 64
    u = np.where(u > WRAP, u - 2 * WRAP, u)
    u = np.where(u <= -WRAP, u + 2 * WRAP, u)
    v = np.clip(decay(v, UNITY - dv) + u + bias, -VMAX, VMAX)
    spikes = v > vth * 64
    return u, np.where(spikes, 0, v), spikes


def conv_loops(x: np.ndarray, kernel: np.ndarray, strides, pads, groups) -> np.ndarray:
    """Cross-correlation, x (H, W, C) int64, kernel HWIO; plain loops."""
    (pt, pb), (pl, pr) = pads
    x = np.pad(x, ((pt, pb), (pl, pr), (0, 0)))
    kh, kw, cin_g, cout = kernel.shape
    out_h = (x.shape[0] - kh) // strides[0] + 1
    out_w = (x.shape[1] - kw) // strides[1] + 1
    cout_g = cout // groups
    y = np.zeros((out_h, out_w, cout), np.int64)
    for o in range(cout):
        g = o // cout_g
        for i in range(out_h):
            for j in range(out_w):
                patch = x[i * strides[0]: i * strides[0] + kh, j * strides[1]: j * strides[1] + kw, g * cin_g:(g + 1) * cin_g]
                y[i, j, o] = int((patch * kernel[:, :, :, o]).sum())
    return y


def simulate(net, input_bias: np.ndarray, steps: int):
    """Traces {pop: (T, *shape)} of u, v, s for one sample."""
    pops = net.populations
    u = {p.name: np.zeros(p.shape, np.int64) for p in pops}
    v = {p.name: np.full(p.shape, p.v_init, np.int64) for p in pops}
    s = {p.name: np.zeros(p.shape, bool) for p in pops}
    traces = {k: {p.name: [] for p in pops} for k in "uvs"}
    for _ in range(steps):
        previous = {k: x.copy() for k, x in s.items()}
        for pop in pops:
            a_in = np.zeros(pop.shape, np.int64)
            for q in net.incoming(pop.name):
                src = previous[q.src].astype(np.int64)
                w = q.weight.astype(np.int64)
                total = (w @ src.reshape(-1)).reshape(pop.shape) if q.conv is None else \
                    conv_loops(src, w, q.conv.strides, q.conv.pads, q.conv.groups)
                a_in += total << q.weight_exp if q.weight_exp >= 0 else total >> -q.weight_exp
            mant = input_bias if pop is pops[0] else pop.bias_mant
            bias = mant.astype(np.int64) << pop.bias_exp
            u[pop.name], v[pop.name], s[pop.name] = lif(u[pop.name], v[pop.name], a_in, bias, pop.vth, pop.du, pop.dv)
            for k, x in (("u", u), ("v", v), ("s", s)):
                traces[k][pop.name].append(x[pop.name].copy())
    return {k: {n: np.stack(t) for n, t in d.items()} for k, d in traces.items()}
