"""Surrogate-gradient fine-tuning of a deployed rate-coded LIF network (STBP; optionally the TET loss
of Deng et al. 2022), in which the forward pass IS the integer network.

The forward pass is a float32 mirror of Loihi's LIF (compiler/ir/neurons/lif.py) at the du, dv the
network holds, whose every value is an integer below 2^24 and so exact:
    u = decay(u, du) + a_in << 6,  v = clip(decay(v, dv) + u + bias, +-(2^23 - 1)),  s = v > vth << 6,  v = 0 where s
with decay's product split so that no intermediate reaches 2^24; host sources (the input's spike
trains, the tonic bias sources) step as they do in the simulator. The parameters it reads are float
shadows rounded to what Loihi holds: weights to the signed 8-bit grid (the self-projections of reset
by subtraction and the bias weights included), bias mantissas at the population's exponent,
thresholds to integers; rounding and decay are straight-through (their linear gradient), the
strict threshold has a fast-sigmoid surrogate gradient, and each time step is rematerialized
(jax.checkpoint) so memory grows with T only by the carry. The mirror's readout equals the integer
simulator's exactly (tested), so the fine-tuned artifact verifies bit-exact against Lava. After
every epoch, a population whose trained weights could drive more current than its u holds at
its leak is scaled down as a whole (within_current). Optimizer: optax Adam.
"""

from __future__ import annotations

from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from snnc.compiler.ir.neurons.spike_source import rate_spike_trains
from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.passes.quantize import max_input_current, to_weight_grid
from snnc.compiler.options import FinetuneOptions
from snnc.errors import SnncError
from snnc.targets import Target

SURROGATE_WIDTH = 0.5  # in units of the threshold: how far from it a neuron still gets gradient
MAX_RESCALES = 8  # within_current's tries per population (rounding can leave a scaled current just above)


def check_trainable(net: SpikingNet, target: Target) -> None:
    """finetune trains rate-coded LIF networks as compile emits them; anything else by name."""
    if net.input.kind != "spike-source":
        raise SnncError(f"finetune trains rate-coded LIF networks, whose input is host spike trains; this one's "
                        f"input is {net.input.kind}")
    if any(q.weight_exp < 0 for q in net.projections):
        raise SnncError("finetune trains rate-coded LIF networks with weight exponents >= 0 (as compile emits them)")
    for p in net.populations[1:]:
        if p.kind not in ("lif", "tonic"):
            raise SnncError(f"finetune trains rate-coded LIF networks; population {p.name!r} is {p.kind}")


@jax.custom_vjp
def _spike(x):
    """1.0 where x > 0, else 0.0: a float, so that the surrogate gradient flows (a boolean output
    would be non-differentiable to JAX, and every layer below the output would get zero gradient)."""
    return (x > 0).astype(x.dtype)


def _spike_fwd(x):
    return _spike(x), x


def _spike_bwd(x, g):
    return (g / (1.0 + jnp.abs(x) / SURROGATE_WIDTH) ** 2,)


_spike.defvjp(_spike_fwd, _spike_bwd)


def _straight_through(x, rounded):
    """rounded in the forward pass, the identity's gradient in the backward pass."""
    return x + jax.lax.stop_gradient(rounded - x)


def _trained(net: SpikingNet) -> list:
    """The populations with trainable biases and thresholds: the LIF ones."""
    return [p for p in net.populations if p.kind == "lif"]


def shadows(net: SpikingNet) -> dict:
    """The trainable float parameters: integer weights, bias mantissas and thresholds as floats."""
    return {"w": [jnp.asarray(q.weight, jnp.float32) for q in net.projections],
            "b": {p.name: jnp.asarray(p.bias_mant, jnp.float32) for p in _trained(net)},
            "vth": {p.name: jnp.float32(p.vth) for p in _trained(net)}}


def _weight_grid(w, target: Target):
    """quantize.to_weight_grid in jax.numpy: Lava's sign modes decided by the values' signs."""
    mixed = jnp.any(w < -0.5) & jnp.any(w > 0.5)  # after rounding, both signs present
    top = 2 ** target.weight_bits - 1
    return jnp.where(mixed, jnp.clip(2 * jnp.round(w / 2), -(top - 1), top - 1), jnp.clip(jnp.round(w), -top, top))


def _deployed(params: dict, target: Target) -> dict:
    """The values Loihi holds, as floats with straight-through gradients."""
    low, high = target.bias_mant_range
    return {"w": [_straight_through(w, _weight_grid(w, target)) for w in params["w"]],
            "b": {k: _straight_through(b, jnp.clip(jnp.round(b), low, high)) for k, b in params["b"].items()},
            "vth": {k: _straight_through(v, jnp.clip(jnp.round(v), 1, target.vth_max)) for k, v in params["vth"].items()}}


def _decay(x, factor: int, target: Target):
    """lif.decay in exact float32 (|x| < 2^24): sign(x) ((|x| >> bits) c + ((|x| & (2^bits - 1)) c) >> bits),
    with the gradient of x c / 2^bits."""
    unit = float(1 << target.decay_bits)
    mag = jnp.abs(x)
    high = jnp.floor(mag / unit)
    exact = jnp.sign(x) * (high * factor + jnp.floor((mag - high * unit) * factor / unit))
    return _straight_through(x * (factor / unit), exact)


def mirror_readouts(params: dict, net: SpikingNet, target: Target, trains: jnp.ndarray) -> jnp.ndarray:
    """The output readout (spikes x (vth << 6) + v) after every step, (T, B, n_out) float32, from the
    input spike trains (T, B, *input shape), for the deployed values of `params`."""
    values = _deployed(params, target)
    pops = net.populations
    shift, act = float(1 << target.vth_shift), float(1 << target.act_shift)
    unity, limit = 1 << target.decay_bits, float(target.uv_max)
    batch = trains.shape[1]
    incoming = {p.name: [(k, q) for k, q in enumerate(net.projections) if q.dst == p.name] for p in pops}

    def step(carry, spikes_in):
        """Every population from the previous step's spikes (one-step delay per projection); host
        sources step on their own, the input's spikes are this step's trains."""
        state, s = carry
        new_state, new_s = {}, {pops[0].name: spikes_in.astype(jnp.float32)}
        for pop in pops[1:]:
            if not pop.on_chip:
                new_state[pop.name] = pop.step(state[pop.name], None, None, target)
                new_s[pop.name] = new_state[pop.name].s.astype(jnp.float32)
                continue
            a_in = jnp.zeros((batch, *pop.shape), jnp.float32)
            for k, q in incoming[pop.name]:
                y = q.replace(weight=values["w"][k]).apply(s[q.src], net.population(q.src).shape, pop.shape)
                a_in = a_in + y * 2.0 ** q.weight_exp
            u0, v0, _ = state[pop.name]
            u = _decay(u0, unity - (pop.du + 1), target) + a_in * act
            vth = values["vth"][pop.name] * shift
            v = jnp.clip(_decay(v0, unity - pop.dv, target) + u + values["b"][pop.name] * 2.0 ** pop.bias_exp,
                         -limit, limit)
            fired = _spike((v - vth) / vth)
            new_state[pop.name] = (u, v * (1 - fired), fired)
            new_s[pop.name] = fired
        return (new_state, new_s), new_state[pops[-1].name]

    zeros = lambda p: jnp.zeros((batch, *p.shape), jnp.float32)  # noqa: E731
    state0 = {p.name: (zeros(p), jnp.full((batch, *p.shape), float(p.v_init), jnp.float32), zeros(p)) if p.on_chip
              else p.init_state(batch) for p in pops[1:]}
    s0 = {p.name: zeros(p) for p in pops}
    _, outputs = jax.lax.scan(jax.checkpoint(step), (state0, s0), trains)
    _, v_out, fired = outputs
    counts = jnp.cumsum(fired, axis=0)
    readouts = counts * values["vth"][pops[-1].name] * shift + v_out
    return readouts.reshape(len(trains), batch, -1)


def loss_fn(params, net, target, trains, labels, loss: str):
    readouts = mirror_readouts(params, net, target, trains)
    scale = jax.lax.stop_gradient(jnp.abs(readouts[-1]).mean() + 1.0)
    logits = readouts / scale * 4.0  # scale-free logits: the readout's size depends on the thresholds
    if loss == "tet":
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels[None]).mean()
    return optax.softmax_cross_entropy_with_integer_labels(logits[-1], labels).mean()


def within_current(params: dict, net: SpikingNet, target: Target) -> dict:
    """params with every trained population whose deployed weights could drive more current than
    its leak du keeps u from wrapping (Target.max_current) scaled down: its incoming weights and
    biases, and a hidden population's threshold with them, so that its v and threshold shrink
    together (the same spikes, up to rounding) and the output's reading shrinks as a whole (the
    same class). du, and so the exact mirror, stay as compiled."""
    params = jax.tree.map(np.array, params)
    for pop in _trained(net):
        incoming = [k for k, q in enumerate(net.projections) if q.dst == pop.name]
        for _ in range(MAX_RESCALES):
            current = max_input_current([to_weight_grid(params["w"][k], target).astype(np.int64) << net.projections[k].weight_exp
                                         for k in incoming], [net.projections[k].kind for k in incoming])
            if current <= pop.current_limit(target):
                break
            scale = 0.98 * pop.current_limit(target) / current
            for k in incoming:
                params["w"][k] = params["w"][k] * scale
            params["b"][pop.name] = params["b"][pop.name] * scale
            if pop.role == "hidden":
                params["vth"][pop.name] = params["vth"][pop.name] * scale
    return jax.tree.map(jnp.asarray, params)


def trained_net(params: dict, net: SpikingNet, target: Target) -> SpikingNet:
    """The integer network the parameters deploy to."""
    values = jax.tree.map(np.asarray, _deployed(params, target))
    projections = tuple(q.replace(weight=np.asarray(w, np.int32)) for q, w in zip(net.projections, values["w"]))
    populations = tuple(
        p.replace(bias_mant=np.asarray(values["b"][p.name], np.int32).reshape(np.shape(p.bias_mant)),
                  vth=int(values["vth"][p.name]))
        if p.name in values["b"] else p for p in net.populations)
    return SpikingNet(populations, projections, net.encoding, net.notes)


def input_trains(net: SpikingNet, x: np.ndarray, steps: int) -> np.ndarray:
    """The host's spike trains for a batch, time-major (T, B, *input shape)."""
    return np.moveaxis(rate_spike_trains(net.encode(x), net.input.full, steps), 1, 0)


def cosine_rate(rate: float, epoch: int, epochs: int) -> float:
    """The learning rate of epoch 1..epochs: `rate`, decayed along half a cosine to rate / 10 in
    the last epoch (late epochs at the full rate undo what earlier ones found)."""
    progress = (epoch - 1) / max(epochs - 1, 1)
    return rate * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * progress)))


def finetune(net: SpikingNet, target: Target, batches: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]],
             options: FinetuneOptions, evaluate: Callable[[SpikingNet], float] | None = None,
             on_epoch: Callable[[int, float, float | None], None] = lambda *a: None
             ) -> tuple[SpikingNet, list[dict], int]:
    """Train; returns the integer network, the history (loss and validation accuracy per epoch) and
    the epoch whose network it is: with `evaluate` (validation accuracy), the best epoch's, 0 (the
    network as given) unless an epoch beats it; without, the last."""
    check_trainable(net, target)
    best = (evaluate(net), 0, net) if evaluate else None
    params = shadows(net)
    optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=options.learning_rate)
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
        state.hyperparams["learning_rate"] = jnp.float32(cosine_rate(options.learning_rate, epoch, options.epochs))
        for x, y in batches():
            params, state, loss = update(params, state, jnp.asarray(input_trains(net, x, options.timesteps)),
                                         jnp.asarray(y))
            losses.append(float(loss))
        params = within_current(params, net, target)
        trained = trained_net(params, net, target)
        accuracy = evaluate(trained) if evaluate else None
        if best is not None and accuracy > best[0]:
            best = (accuracy, epoch, trained)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "validation_accuracy": accuracy})
        on_epoch(epoch, history[-1]["loss"], accuracy)
    return (trained, history, options.epochs) if best is None else (best[2], history, best[1])
