"""Bias calibration for reset by subtraction (rate coding's default): each channel's bias absorbs
the mean gap between the rate the ANN asks for and the rate the integer network fires.

A soft-reset neuron fires at the mean of its drive, but its drive is not the ANN's: the layers
before it send rates rounded to whole spikes and rectified, the first spikes arrive late, weights
are on the 8-bit grid, and these errors shift each layer's mean and compound with depth (Li et al.,
"A Free Lunch From ANN", ICML 2021, correct exactly this). In network order, each hidden
population's spikes over the steps its input arrives in (d + 1..T, d its depth, when its tonic
bias starts) are compared on calibration samples with the ANN's rho a / lambda per step, per
channel (per neuron in a flat population); the mean gap, in spikes per step, times the threshold
is added to the channel's bias current, ROUNDS times. Each population is fitted alone from its
recorded inputs (compiler/passes/replay.py: about one simulation in all, memory bounded), in the
order of the network, so each fit sees the corrected layers before it. The result is kept only if
the network's answers at T agree with the ANN's classes on more calibration samples than before
(the uncalibrated network replayed once more). Biases stay within the
current the population's leak proves safe; weights and thresholds are unchanged.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from snnc.backends.jax.simulator import from_others, own_projections, population_counts
from snnc.compiler.ir.spiking import FloatNet, Projection, SpikingNet, path_depths
from snnc.compiler.passes import replay
from snnc.compiler.passes.check_limits import input_current
from snnc.compiler.passes.quantize import on_exponent_grid, tonic_name
from snnc.targets import Target

ROUNDS = 2


def calibrate_biases(net: SpikingNet, float_net: FloatNet, target: Target, calibration, scales, coding,
                     timesteps: int) -> tuple[SpikingNet, list[str]]:
    x = replay.calibration_samples(net, calibration, timesteps)
    activity = replay.positive_activations(float_net, x, _per_channel, scales)  # a rate is at most rho: clipped at lambda
    depth = path_depths(float_net)
    run = replay.Replay(net, target, x, timesteps)
    original, shifts, fewer = net, [], []
    for i, pop in enumerate(net.populations):
        own = own_projections(net, pop.name)
        a_fit = None
        if pop.role == "hidden" and own and timesteps > depth[pop.name] + 1:
            bias = next(q for q in net.incoming(pop.name) if q.src == tonic_name(depth[pop.name]))
            fitted = run.fit_samples(pop)
            wanted = activity[pop.name][:fitted].sum(axis=0) * coding.max_rate / scales[pop.name]
            external = [q for q in from_others(net, pop.name) if q is not bias]
            a_ext = run.a_in(pop, 0, fitted, external) if external else jnp.zeros(
                (timesteps, fitted, *pop.shape), jnp.int32)
            fit = _fit(pop, own, bias, a_ext, wanted, depth[pop.name], _bias_room(net, pop, bias, target), target)
            net = _with_bias(net, bias, fit)
            run.net = net
            a_fit = a_ext + _bias_trains(fit, pop, depth[pop.name], timesteps)
            shifts.append(f"{pop.name} {_mean_change(bias, fit, pop.vth):+.3f}")
            if fitted < len(x):
                fewer.append(f"{pop.name} {fitted}")
        if i == len(net.populations) - 1:
            calibrated_answers = run.answers()
        run.advance(i, pop, own, a_fit)
    budget = replay.budget_note(len(x))
    ann = replay.ann_classes(float_net, x)
    after = float((calibrated_answers == ann).mean())
    before = float((replay.answers(original, target, x, timesteps) == ann).mean())
    note = (f"biases calibrated for T={timesteps} on {len(x)} samples{budget}, layer by layer, per channel (mean change "
            "in spikes per step): " + ", ".join(shifts))
    if fewer:
        note += "; fitted on fewer samples to bound memory (population samples): " + ", ".join(fewer)
    agreement = f"the ANN's class on those samples at T={timesteps}: {100 * after:.1f} % calibrated, {100 * before:.1f} % not"
    if not _better(after, before):
        return original, [f"bias calibration not kept ({agreement}); it would have been: {note}"]
    return net, [f"{note}; {agreement}"]


def _better(calibrated: float, uncalibrated: float) -> bool:
    """Only a strict improvement in agreement with the ANN is kept."""
    return calibrated > uncalibrated


def _per_channel(a: np.ndarray) -> np.ndarray:
    """(B, *shape) -> (B, channels): summed over positions for (H, W, C), per neuron for flat."""
    return a.sum(axis=(1, 2)) if a.ndim == 4 else a


def _fit(pop, own, bias: Projection, a_ext, wanted: np.ndarray, d: int, room: int, target: Target) -> Projection:
    """The bias projection after ROUNDS corrections of the per-channel gap between the spikes wanted
    (over steps d + 1..T, summed over samples) and the spikes fired."""
    steps, samples = a_ext.shape[:2]
    per_channel = samples * (int(np.prod(pop.shape[:-1])) if len(pop.shape) == 3 else 1)
    current = _current(bias).astype(np.float64)
    fit = bias
    for _ in range(ROUNDS):
        counts = population_counts(pop, target, a_ext, d + 1, _current(fit).reshape(pop.shape), own)
        fired = _per_channel(counts).sum(axis=0)
        gap = (wanted * (steps - d) - fired) / (per_channel * (steps - d))  # spikes per step per neuron
        current = np.clip(current + np.broadcast_to(gap * pop.vth, pop.shape).reshape(-1, 1), -room, room)
        weight, exp = on_exponent_grid(current, target)
        bound = (room >> exp) & ~1  # even: on every sign mode's grid
        fit = bias.replace(weight=np.clip(weight, -bound, bound).astype(np.int32), weight_exp=exp)
    return fit


def _current(bias: Projection) -> np.ndarray:
    """The bias current per neuron (n, 1), in units of a_in."""
    return bias.weight.astype(np.int64) << bias.weight_exp


def _bias_trains(bias: Projection, pop, d: int, steps: int) -> jnp.ndarray:
    """The bias current a_in receives at steps 1..T (from step d + 1 on), (T, 1, *shape) int32."""
    on = (np.arange(1, steps + 1) > d).astype(np.int64).reshape(steps, 1, *([1] * len(pop.shape)))
    return jnp.asarray(on * _current(bias).reshape(1, 1, *pop.shape), jnp.int32)


def _bias_room(net: SpikingNet, pop, bias: Projection, target: Target) -> int:
    """The largest |bias current| that keeps the population's possible input within its leak's limit."""
    others = input_current(net, pop.name) - int(np.abs(_current(bias)).max(initial=0))
    return max(0, pop.current_limit(target) - others)


def _with_bias(net: SpikingNet, old: Projection, new: Projection) -> SpikingNet:
    return SpikingNet(net.populations, tuple(new if q is old else q for q in net.projections), net.encoding, net.notes)


def _mean_change(old: Projection, new: Projection, vth: int) -> float:
    return float((_current(new) - _current(old)).mean()) / vth
