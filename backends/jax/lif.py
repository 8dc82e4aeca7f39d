"""Loihi's fixed-point neuron updates in int32 JAX, exactly as Lava's PyLifModelBitAcc and
PySigmaDeltaModelFixed.

Only int32 arithmetic: the decay product |x| * c (|x| < 2^24, c <= 4096) is split so that no
intermediate leaves int32: (|x| * c) >> 12 == (|x| >> 12) * c + (((|x| & 4095) * c) >> 12).
"""

from __future__ import annotations

import jax.numpy as jnp

from snnc.targets import Target


def decay(x, factor: int, target: Target):
    """sign(x) * ((|x| * factor) >> decay_bits): multiply by factor / 4096, rounding toward zero."""
    bits = target.decay_bits
    mag = jnp.abs(x)
    c = jnp.int32(factor)
    low = (mag & jnp.int32((1 << bits) - 1)) * c
    return jnp.sign(x) * ((mag >> bits) * c + (low >> bits))


def lif_step(u, v, a_in, bias, vth, du: int, dv: int, target: Target):
    """One timestep; returns (u, v, spikes). All arguments int32 (vth may be a scalar)."""
    unity = 1 << target.decay_bits
    u = decay(u, unity - (du + 1), target) + (a_in << target.act_shift)
    half = jnp.int32(target.u_wrap)
    u = jnp.where(u > half, u - 2 * half, jnp.where(u <= -half, u + 2 * half, u))
    v = decay(v, unity - dv, target) + u + bias
    v = jnp.clip(v, -target.uv_max, target.uv_max)
    spikes = v > (jnp.int32(vth) << target.vth_shift)
    return u, jnp.where(spikes, 0, v), spikes


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
