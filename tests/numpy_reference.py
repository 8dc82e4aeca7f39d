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


def sigma_delta(sigma, act, residue, a_in, bias, vth, state_exp, relu):
    """Lava's PySigmaDeltaModelFixed, one step, written from its source: returns sigma, act,
    residue, payload."""
    sigma = sigma + a_in
    new_act = sigma + bias * 2 ** state_exp
    if relu:
        new_act = np.maximum(new_act, 0)
    delta = new_act - act + residue
    sent = np.where(np.abs(delta) >= vth * 2 ** state_exp, delta, 0)
    return sigma, new_act, delta - sent, np.floor_divide(sent, 2 ** state_exp)


def simulate(net, input_bias: np.ndarray, steps: int):
    """Traces {pop: (T, *shape)} of u, v, s for one sample (sigma-delta: sigma, act, payload)."""
    pops = net.populations
    graded = {p.name: hasattr(p, "state_exp") for p in pops}
    u = {p.name: np.zeros(p.shape, np.int64) for p in pops}
    v = {p.name: np.full(p.shape, 0 if p.kind == "lif-reset" else getattr(p, "v_init", 0), np.int64) for p in pops}
    r = {p.name: np.zeros(p.shape, np.int64) for p in pops}
    s = {p.name: np.zeros(p.shape, np.int64 if graded[p.name] else bool) for p in pops}
    traces = {k: {p.name: [] for p in pops} for k in "uvs"}
    for t in range(1, steps + 1):
        previous = {k: x.copy() for k, x in s.items()}
        for pop in pops:
            a_in = np.zeros(pop.shape, np.int64)
            for q in net.incoming(pop.name):
                src = previous[q.src].astype(np.int64)
                w = q.weight.astype(np.int64)
                total = (w @ src.reshape(-1)).reshape(pop.shape) if q.conv is None else \
                    conv_loops(src, w, q.conv.strides, q.conv.pads, q.conv.groups)
                a_in += total << q.weight_exp if q.weight_exp >= 0 else total >> -q.weight_exp
            mant = np.asarray(input_bias if pop is pops[0] else getattr(pop, "bias_mant", 0)).astype(np.int64)
            n = pop.name
            if pop.kind == "ttfs-source":  # one spike, at step 1 + window - round(window m / full)
                value = (np.clip(mant, 0, pop.full) * pop.window + pop.full // 2) // pop.full
                s[n] = np.full(pop.shape, t) == 1 + pop.window - value
            elif pop.kind == "clock":  # neuron k fires at step fire_at[k] only
                s[n] = np.array(pop.fire_at) == t
            elif pop.kind == "tonic":  # neuron k fires at every step from start[k] on
                s[n] = np.array(pop.start) <= t
            elif pop.kind == "ttfs":  # Lava's LIF with du = dv = 0 and no bias
                u[n], v[n], s[n] = lif(u[n], v[n], a_in, 0, pop.vth, 0, 0)
            elif hasattr(pop, "full"):  # host spike trains: integrate m, subtract full on a spike
                v[n] = v[n] + mant
                s[n] = v[n] >= pop.full
                v[n] = v[n] - pop.full * s[n]
            elif pop.kind == "lif-reset":  # u and v zeroed before every update
                zero = np.zeros(pop.shape, np.int64)
                u[n], v[n], s[n] = lif(zero, zero, a_in, mant << pop.bias_exp, pop.vth, 0, 0)
            elif graded[n]:
                u[n], v[n], r[n], s[n] = sigma_delta(u[n], v[n], r[n], a_in, mant, pop.vth, pop.state_exp, pop.relu)
            else:
                u[n], v[n], s[n] = lif(u[n], v[n], a_in, mant << pop.bias_exp, pop.vth, pop.du, pop.dv)
            for k, x in (("u", u), ("v", v), ("s", s)):
                traces[k][pop.name].append(x[pop.name].copy())
    return {k: {n: np.stack(t) for n, t in d.items()} for k, d in traces.items()}
