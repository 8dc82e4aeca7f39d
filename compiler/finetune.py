"""Surrogate-gradient fine-tuning of a deployed rate-coded LIF network (STBP; optionally the TET loss
of Deng et al. 2022), in which the forward pass IS the integer network.

The forward pass is a float32 mirror of Loihi's LIF at the parameters compile emits (du at the IF
value, dv 0, hard reset, host spike input), whose every value is an integer below 2^24 and so
exact: u = a_in << 6, v = clip(v + u + bias, +-(2^23 - 1)), s = v > vth << 6, v = 0 where s. The
parameters it reads are float shadows rounded to what Loihi holds: weights to the signed 8-bit
grid, biases to their mantissa at the population's exponent, thresholds to integers; rounding is
straight-through (identity gradient), the strict threshold has a fast-sigmoid surrogate gradient,
and each time step is rematerialized (jax.checkpoint) so memory grows with T only by the carry.
The mirror's readout equals the integer simulator's exactly (tested), so the fine-tuned artifact
verifies bit-exact against Lava. Optimizer: optax Adam.
"""

from __future__ import annotations

from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnc.compiler.ir.neurons.spike_source import rate_spike_trains
from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.options import FinetuneOptions
from snnc.errors import SnncError
from snnc.targets import Target

SURROGATE_WIDTH = 0.5  # in units of the threshold: how far from it a neuron still gets gradient


def check_trainable(net: SpikingNet, target: Target) -> None:
    """finetune trains rate-coded LIF networks as compile emits them; anything else by name."""
    if net.input.kind != "spike-source":
        raise SnncError(f"finetune trains rate-coded LIF networks, whose input is host spike trains; this one's "
                        f"input is {net.input.kind}")
    if any(q.weight_exp < 0 for q in net.projections):
        raise SnncError("finetune trains rate-coded LIF networks with weight exponents >= 0 (as compile emits them)")
    for p in net.populations[1:]:
        if p.kind != "lif" or (p.du, p.dv) != (target.if_du, 0):
            raise SnncError(f"finetune trains rate-coded LIF networks (du {target.if_du}, dv 0); population {p.name!r} "
                            f"is {p.kind}" + (f" with du {p.du}, dv {p.dv}" if p.kind == "lif" else ""))


@jax.custom_vjp
def _spike(x):
    return x > 0


def _spike_fwd(x):
    return x > 0, x


def _spike_bwd(x, g):
    return (g / (1.0 + jnp.abs(x) / SURROGATE_WIDTH) ** 2,)


_spike.defvjp(_spike_fwd, _spike_bwd)


def _straight_through(x, rounded):
    """rounded in the forward pass, the identity's gradient in the backward pass."""
    return x + jax.lax.stop_gradient(rounded - x)


def shadows(net: SpikingNet) -> dict:
    """The trainable float parameters: integer weights, bias mantissas and thresholds as floats."""
    return {"w": [jnp.asarray(q.weight, jnp.float32) for q in net.projections],
            "b": [jnp.asarray(p.bias_mant, jnp.float32) for p in net.populations[1:]],
            "vth": [jnp.float32(p.vth) for p in net.populations[1:]]}


def _weight_grid(w, target: Target):
    """quantize.to_weight_grid in jax.numpy: Lava's sign modes decided by the values' signs."""
    mixed = jnp.any(w < -0.5) & jnp.any(w > 0.5)  # after rounding, both signs present
    top = 2 ** target.weight_bits - 1
    return jnp.where(mixed, jnp.clip(2 * jnp.round(w / 2), -(top - 1), top - 1), jnp.clip(jnp.round(w), -top, top))


def _deployed(params: dict, net: SpikingNet, target: Target) -> dict:
    """The values Loihi holds, as floats with straight-through gradients."""
    low, high = target.bias_mant_range
    weights = [_straight_through(w, _weight_grid(w, target)) for w in params["w"]]
    biases = [_straight_through(b, jnp.clip(jnp.round(b), low, high)) for b in params["b"]]
    vths = [_straight_through(v, jnp.clip(jnp.round(v), 1, target.vth_max)) for v in params["vth"]]
    return {"w": weights, "b": biases, "vth": vths}


def mirror_readouts(params: dict, net: SpikingNet, target: Target, trains: jnp.ndarray) -> jnp.ndarray:
    """The output readout (spikes x (vth << 6) + v) after every step, (T, B, n_out) float32, from the
    input spike trains (T, B, *input shape), for the deployed values of `params`."""
    values = _deployed(params, net, target)
    pops, index = net.populations, {p.name: i for i, p in enumerate(net.populations)}
    shift = float(1 << target.vth_shift)
    act = float(1 << target.act_shift)
    limit = float(target.uv_max)
    batch = trains.shape[1]

    def step(carry, spikes_in):
        """Every population from the previous step's spikes s (one-step delay per projection); then
        this step's input spikes join the carried spikes."""
        v, s, count = carry
        new_v, new_s = [None], [spikes_in.astype(jnp.float32)]
        for i, pop in enumerate(pops[1:], start=1):
            a_in = jnp.zeros((batch, *pop.shape), jnp.float32)
            for k, q in enumerate(net.projections):
                if q.dst == pop.name:
                    src = pops[index[q.src]]
                    y = q.replace(weight=values["w"][k]).apply(s[index[q.src]], src.shape, pop.shape)
                    a_in = a_in + y * 2.0 ** q.weight_exp
            bias = values["b"][i - 1] * 2.0 ** pop.bias_exp
            vi = jnp.clip(v[i] + a_in * act + bias, -limit, limit)
            fired = _spike((vi - values["vth"][i - 1] * shift) / (values["vth"][i - 1] * shift)).astype(jnp.float32)
            new_v.append(vi * (1 - fired))
            new_s.append(fired)
        count = count + new_s[-1]
        readout = count * values["vth"][-1] * shift + new_v[-1]
        return (tuple(new_v), tuple(new_s), count), readout

    v0 = (None,) + tuple(jnp.full((batch, *p.shape), float(p.v_init), jnp.float32) for p in pops[1:])
    s0 = tuple(jnp.zeros((batch, *p.shape), jnp.float32) for p in pops)
    count0 = jnp.zeros((batch, *pops[-1].shape), jnp.float32)
    _, readouts = jax.lax.scan(jax.checkpoint(step), (v0, s0, count0), trains)
    return readouts.reshape(len(trains), batch, -1)


def loss_fn(params, net, target, trains, labels, loss: str):
    readouts = mirror_readouts(params, net, target, trains)
    scale = jax.lax.stop_gradient(jnp.abs(readouts[-1]).mean() + 1.0)
    logits = readouts / scale * 4.0  # scale-free logits: the readout's size depends on the thresholds
    if loss == "tet":
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels[None]).mean()
    return optax.softmax_cross_entropy_with_integer_labels(logits[-1], labels).mean()


def trained_net(params: dict, net: SpikingNet, target: Target) -> SpikingNet:
    """The integer network the parameters deploy to."""
    values = jax.tree.map(np.asarray, _deployed(params, net, target))
    projections = tuple(q.replace(weight=np.asarray(w, np.int32)) for q, w in zip(net.projections, values["w"]))
    populations = (net.populations[0],) + tuple(
        p.replace(bias_mant=np.asarray(b, np.int32).reshape(np.shape(p.bias_mant)), vth=int(v))
        for p, b, v in zip(net.populations[1:], values["b"], values["vth"]))
    return SpikingNet(populations, projections, net.encoding, net.notes)


def input_trains(net: SpikingNet, x: np.ndarray, steps: int) -> np.ndarray:
    """The host's spike trains for a batch, time-major (T, B, *input shape)."""
    return np.moveaxis(rate_spike_trains(net.encode(x), net.input.full, steps), 1, 0)


def finetune(net: SpikingNet, target: Target, batches: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]],
             options: FinetuneOptions, evaluate: Callable[[SpikingNet], float] | None = None,
             on_epoch: Callable[[int, float, float | None], None] = lambda *a: None
             ) -> tuple[SpikingNet, list[dict]]:
    """Train; returns the integer network and the history (loss and validation accuracy per epoch)."""
    check_trainable(net, target)
    params = shadows(net)
    optimizer = optax.adam(options.learning_rate)
    state = optimizer.init(params)

    @jax.jit
    def update(params, state, trains, labels):
        loss, grads = jax.value_and_grad(loss_fn)(params, net, target, trains, labels, options.loss)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats with its int32 step count
            updates, state = optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state, loss

    history = []
    for epoch in range(1, options.epochs + 1):
        losses = []
        for x, y in batches():
            params, state, loss = update(params, state, jnp.asarray(input_trains(net, x, options.timesteps)),
                                         jnp.asarray(y))
            losses.append(float(loss))
        accuracy = evaluate(trained_net(params, net, target)) if evaluate else None
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "validation_accuracy": accuracy})
        on_epoch(epoch, history[-1]["loss"], accuracy)
    return trained_net(params, net, target), history
