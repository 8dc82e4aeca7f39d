"""Bit-width fitting for time-to-first-spike coding: a layered FloatNet and its activation scales ->
a SpikingNet of ramp LIF neurons (compiler/ir/neurons/ttfs.py) that fire at most once, the exact
ReLU mapping of Stanojevic et al. (2023) in per-layer windows of T steps, on Lava's stock LIF.

Timing (every projection delays by one step). Layer n (depth n) has a frame starting at
A_n = 2 + (n - 1)(T + 1): an input window t' = 1..T (steps A_n .. A_n + T - 1), an output window
t' = T + 1..2T and a forced step t' = 2T + 1. A spike of layer n - 1 sent at step A_n - 1 + k
(k = 0..T) carries the value x = T - k, in units of lambda / T. The input neurons spike at step
1 + T - x. The output layer is read at the end of its input window, step d (T + 1), d the depth.

Integers (in units of a_in; v is 64 times these): per layer a slope S (even, the weight gain),
data weights W = S w lambda_src / lambda on the 8-bit grid, beta = S b / lambda.
  input window    u = sum of arrived W + beta - M, M = 4S  -> v(T) = z - M T,  z = sum W x + beta T
                  (the guard M keeps activations up to 4 lambda from crossing before the window ends)
  output window   u = S (the clock adds M + S - sum W - beta once every input has arrived, and for
                  one step (M - S) T more: v jumps to z - S T)
                  -> first spike at t' = T + tau, x = T + 1 - tau = round(z / S): vth = S / 2
  forced step     a layer read by a hidden layer or a max pooling: +G (per neuron, above its most
                  negative z for inputs up to lambda) makes every neuron that has not fired fire
                  now (x = 0, the ReLU); a layer read only by the output instead gets -2S, so its
                  zeros stay silent
  self-inhibition one step after its spike a neuron inhibits itself by H > every current it can
                  still receive, so it never fires again
The clock is a host source per population with one neuron per (event, digit): per-neuron clock
currents are split into 7-bit digits (weight exponent 0) and 8-bit digits (exponent 7) over
excitatory and inhibitory projections, so they are exact. Every network input spikes exactly once, hidden neurons at most
once. Activations above lambda fire in the first output step and read as lambda (a clamp); above
4 lambda, early, in the input window (the next layer then reads them unclipped).
Max pooling (role "max"): weight 1 from each input of a window, threshold 0: a neuron fires in the
step its first, largest, input arrives, and carries that value one step later; frames after it
start one step later (_timeline). Skip connections get relays (identity layers, one per layer
skipped); a population that still reads two different windows (a skip around a max pooling) is
refused.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from snnc.compiler.ir.neurons.host import Clock
from snnc.compiler.ir.neurons.ttfs import TtfsPopulation, TtfsSource
from snnc.compiler.ir.spiking import (FloatNet, FloatPopulation, InputEncoding, Projection, SpikingNet, one_to_one,
                                     path_depths)
from snnc.compiler.passes.quantize import to_weight_grid
from snnc.errors import SnncError
from snnc.targets import Target

MAX_SLOPE = 510  # S: keeps 64 (S + G) inside u's 24 bits
MAX_WINDOW = 32  # longer windows lose more than they gain: u's 1/4096 decay per step bends the ramps
FEW_LEVELS = 8  # a shorter window is noted as too few levels for the ANN's accuracy
GUARD = 4  # the input window's ramp runs GUARD x S below the activation: values up to 4 lambda never fire early
FINE_BITS = 7  # clock digits: value = fine (exponent 0, < 2^7) + 2^7 x coarse (exponent 7, <= 255 each)


@dataclass(frozen=True)
class TtfsCoding:
    timesteps: int = 64  # the answer is read by this step: the window is timesteps // depth - 1 (at most 32)


def _per_neuron(q: Projection, weight: np.ndarray, src_shape, dst_shape) -> np.ndarray:
    """Every destination neuron's sum of `weight` over its synapses (float64, dst_shape)."""
    ones = np.ones((1, *src_shape), np.float32)
    return np.asarray(q.replace(weight=weight.astype(np.float32)).apply(ones, tuple(src_shape), tuple(dst_shape)),
                      np.float64)[0]


def _slope(scaled: list[np.ndarray], incoming, net: FloatNet, pop, limit: int, window: int) -> int:
    """The largest even S <= MAX_SLOPE at which the weights fit 8 bits, every neuron's summed |W|
    (the largest current inputs can give) stays below a quarter of the current limit, and the
    switch's one-step jump (GUARD - 1) S T below half of it."""
    peak = max(float(np.abs(w).max(initial=0.0)) for w in scaled)
    wide = sum(_per_neuron(q, np.abs(w), net.population(q.src).shape, pop.shape) for q, w in zip(incoming, scaled))
    s = min(MAX_SLOPE, (2 ** 8 - 2) / peak if peak > 0 else MAX_SLOPE, limit / 4 / max(float(wide.max()), 1e-30),
            limit / 2 / ((GUARD - 1) * window))
    if s < 2:
        raise SnncError(f"population {pop.name!r}: its inputs are too wide for TTFS currents (slope {s:.2f} < 2)")
    return int(s) // 2 * 2


def _digits(values: np.ndarray, coarse_count: int) -> tuple[np.ndarray, np.ndarray]:
    """|values| (int64) as fine (< 2^FINE_BITS) + 2^FINE_BITS x the sum of coarse_count digits <= 255."""
    mag = np.abs(values)
    fine, coarse = mag % (1 << FINE_BITS), mag >> FINE_BITS
    digits = np.stack([np.clip(coarse - 255 * k, 0, 255) for k in range(coarse_count)]) if coarse_count else (
        np.zeros((0, *mag.shape), np.int64))
    return fine, digits


class _ClockBuilder:
    """Allocates clock neurons and the projections that deliver per-neuron currents at given steps:
    one clock source per population it feeds (clock.<population>), so each projection's matrix has
    that population's clock neurons only (one shared clock gave a DenseNet's populations matrices
    of every layer's events, 1.5 GB of zero columns)."""

    def __init__(self):
        self.pending: dict[str, tuple[tuple, dict[int, np.ndarray]]] = {}  # population -> (shape, its events)

    def deliver(self, name: str, shape: tuple, events: dict[int, np.ndarray]) -> None:
        """events: arrival step -> int64 current per neuron of population `name` (once per population)."""
        assert name not in self.pending, f"internal error: a second delivery to {name!r}"
        self.pending[name] = (shape, events)

    def build(self, target: Target) -> tuple[list[Clock], list[Projection]]:
        clocks, projections = [], []
        for name, (shape, events) in self.pending.items():
            fire_at, plans = [], []
            for step, values in events.items():  # a neuron per digit some current needs: none fires for nothing
                if not values.any():
                    continue
                coarse_count = math.ceil(int(np.abs(values).max() >> FINE_BITS) / 255)
                plans.append((values, len(fire_at), coarse_count))
                fire_at += [step - 1] * (1 + coarse_count)
            clock_name, size = f"clock.{name}", int(np.prod(shape))
            for exp in (0, FINE_BITS):
                for sign in (1, -1):
                    weight = np.zeros((size, len(fire_at)), np.int64)
                    for values, first, coarse_count in plans:
                        fine, coarse = _digits(np.where(np.sign(values) == sign, values, 0).ravel(), coarse_count)
                        if exp == 0:
                            weight[:, first] = sign * fine
                        else:
                            weight[:, first + 1:first + 1 + coarse_count] = sign * coarse.T
                    if weight.any():
                        grid = to_weight_grid(weight.astype(np.float64), target)
                        assert np.array_equal(grid, weight), "clock digits must be on the one-signed 8-bit grid"
                        projections.append(Projection(clock_name, name, grid, weight_exp=exp))
            if fire_at:
                clocks.append(Clock(clock_name, (len(fire_at),), "clock", tuple(fire_at), 1.0, "clock"))
        return clocks, projections


def _self_inhibition(name: str, shape: tuple, bound: np.ndarray) -> list[Projection]:
    """Projections of a population onto itself (one step later) of at least `bound` (per neuron;
    per channel for (H, W, C) populations), as copies of 2^7 x up to 255 each."""
    per = bound.reshape(-1, shape[-1]).max(axis=0) if len(shape) == 3 else bound.ravel()
    units = np.ceil(per / 2 ** FINE_BITS).astype(np.int64)
    copies = max(1, math.ceil(int(units.max(initial=0)) / 255))
    return [one_to_one(name, name, shape, -np.clip(units - 255 * k, 0, 255).astype(np.int32), FINE_BITS)
            for k in range(copies)]


def _timeline(net: FloatNet, window: int) -> tuple[dict[str, int], dict[str, int]]:
    """Per population, A (its frame's first step) and the step at which it sends x = T (k = 0):
    the input at step 1; a layer reads from A = its sources' + 1 and sends from A + T; a max
    pooling fires in the step its first input arrives, so it sends from its own A."""
    frame, sends = {}, {net.populations[0].name: 1}
    for pop in net.populations[1:]:
        sources = {sends[q.src] for q in net.incoming(pop.name)}
        if len(sources) > 1:
            raise SnncError(f"TTFS needs every input of a population in the same window: {pop.name!r} (layer "
                            f"{pop.layer}) reads populations of different depths (a skip connection or max pooling's "
                            "relu(a - b) + b); use --coding rate or sigma-delta")
        frame[pop.name] = sources.pop() + 1
        sends[pop.name] = frame[pop.name] + (0 if pop.role == "max" else window)
    return frame, sends


def _window(net: FloatNet, timesteps: int) -> int:
    """The longest window (<= MAX_WINDOW) whose read step, the output's A + T - 1, is <= timesteps."""
    for window in range(MAX_WINDOW, 0, -1):
        if _timeline(net, window)[0][net.populations[-1].name] + window - 1 <= timesteps:
            return window
    layers = sum(p.role not in ("input", "max") for p in net.populations)
    raise SnncError(f"TTFS needs at least {2 * layers + 1} timesteps for this network's {layers} layers (--timesteps-hint)")


def _max_pooling(q: Projection, pop, unit: float) -> tuple[TtfsPopulation, list[Projection]]:
    """A max pooling: weight 1 from every input of its window and threshold 0, so a neuron fires in
    the step its first (largest) input arrives; then it inhibits itself beyond its whole window."""
    taps = int(np.prod(q.weight.shape[:2]))
    spikes = [q.replace(weight=np.ones(q.weight.shape, np.int32))]
    inhibition = _self_inhibition(pop.name, pop.shape, np.full(pop.shape, taps + 2.0))
    return TtfsPopulation(pop.name, pop.shape, "hidden", 0, np.zeros(pop.shape, np.int32), 0, 0, unit, pop.layer), \
        spikes + inhibition


def _currents(s: int, scaled, incoming, net: FloatNet, pop, bias: np.ndarray, window: int, forced: bool,
              target: Target) -> tuple[list[np.ndarray], dict[int, np.ndarray], np.ndarray]:
    """At slope s: the integer weights, the clock currents by step after the frame start (A), and
    per neuron the self-inhibition its current needs after a spike (module docstring)."""
    weights = [to_weight_grid(s * w, target) for w in scaled]
    shapes = [net.population(q.src).shape for q in incoming]
    summed = np.rint(sum(_per_neuron(q, w, sh, pop.shape) for q, w, sh in zip(incoming, weights, shapes))).astype(np.int64)
    negative = np.rint(sum(_per_neuron(q, np.minimum(w, 0), sh, pop.shape)
                           for q, w, sh in zip(incoming, weights, shapes))).astype(np.int64)
    beta = np.rint(s * bias).astype(np.int64)
    guard = GUARD * s
    jump = (guard - s) * window  # v jumps up by this at the switch (a current for one step)
    switch = guard + s - summed - beta + jump
    # the most negative z = sum W x + beta T, inputs up to lambda: above -(T |negative W| + T |beta|)
    end = window * (-negative + np.abs(beta)) + s if forced else np.full(pop.shape, -2 * s, np.int64)
    events = {0: beta - guard, window: switch, window + 1: np.full(pop.shape, -jump), 2 * window: end}
    # after its spike a neuron's current must stay negative: H above everything still to come
    bound = (summed - negative) + np.abs(beta - guard) + np.maximum(switch, 0) + np.maximum(end, 0) + 2 * s
    return weights, events, bound


def _with_relays(net: FloatNet, scales: dict[str, float]) -> tuple[FloatNet, dict[str, float], int]:
    """The net with relay populations on every projection that skips layers (a residual path): a
    relay repeats its source one frame later (identity weights, ReLU of a non-negative value), so
    that every population reads from one window. Relays of a source are shared; nets with max
    pooling are left as they are (their frames are not whole windows apart)."""
    if any(p.role == "max" for p in net.populations):
        return net, scales, 0
    depth = path_depths(net)
    scales, after = dict(scales), {p.name: [] for p in net.populations}
    made: dict[str, FloatPopulation] = {}
    projections = []
    for q in net.projections:
        src = q.src
        for k in range(1, depth[q.dst] - depth[q.src]):
            name = f"{q.src}.relay{k}"
            if name not in made:
                source = net.population(q.src)
                made[name] = FloatPopulation(name, source.shape, "hidden", np.zeros(source.shape, np.float32), source.layer)
                after[q.src].append((made[name], one_to_one(src, name, source.shape, np.float32(1))))
                scales[name] = scales[q.src]
            src = name
        projections.append(q.replace(src=src))
    pops = []
    for pop in net.populations:
        pops += [pop, *(relay for relay, _ in after[pop.name])]
        projections += [identity for _, identity in after[pop.name]]
    return dataclasses.replace(net, populations=tuple(pops), projections=tuple(projections)), scales, len(made)


def ttfs_levels(net: FloatNet, coding: TtfsCoding) -> int:
    """The values a spike time carries: the window (steps) of the net quantize_ttfs builds."""
    return _window(_with_relays(net, dict.fromkeys((p.name for p in net.populations), 1.0))[0], coding.timesteps)


def quantize_ttfs(net: FloatNet, target: Target, scales: dict[str, float],
                  coding: TtfsCoding) -> tuple[SpikingNet, list[str]]:
    net, scales, relays = _with_relays(net, scales)
    window = _window(net, coding.timesteps)
    frame, _ = _timeline(net, window)
    limit = target.max_input_current
    inp = net.populations[0]
    full = target.input_full
    unit = dict(scales)  # the activation a value of T stands for: a max pooling sends its source's
    readers = {p.name: {q.dst for q in net.projections if q.src == p.name} for p in net.populations}
    pops: list = [TtfsSource(inp.name, inp.shape, "input", full, window, scales[inp.name], inp.layer)]
    projections, clock, slopes = [], _ClockBuilder(), []
    for pop in net.populations[1:]:
        incoming = net.incoming(pop.name)
        if pop.role == "max":
            unit[pop.name] = unit[incoming[0].src]
            neurons, synapses = _max_pooling(incoming[0], pop, unit[pop.name])
            pops.append(neurons)
            projections += synapses
            continue
        scaled = [q.weight * unit[q.src] / unit[pop.name] for q in incoming]
        bias = np.broadcast_to(pop.bias, pop.shape) / unit[pop.name]
        arrive = frame[pop.name]
        s = _slope(scaled, incoming, net, pop, limit, window)
        if pop.role == "output":
            projections += [q.replace(weight=to_weight_grid(s * w, target)) for q, w in zip(incoming, scaled)]
            clock.deliver(pop.name, pop.shape, {arrive: np.rint(s * bias).astype(np.int64)})
            pops.append(TtfsPopulation(pop.name, pop.shape, "output", target.vth_max, np.zeros(pop.shape, np.int32), 0,
                                       arrive + window - 1, scales[pop.name], pop.layer))
            slopes.append(f"{pop.name} {s}")
            continue
        # zeros are forced where a hidden layer or a max pooling reads them (the output needs no slope)
        forced = any(net.population(r).role != "output" for r in readers[pop.name])
        while True:  # every current scales with S: lower it until the largest fits
            weights, events, bound = _currents(s, scaled, incoming, net, pop, bias, window, forced, target)
            if bound.max() < limit or s <= 2:
                break
            s = max(2, int(s * 0.95 * limit / bound.max()) // 2 * 2)
        if bound.max() >= limit:
            raise SnncError(f"population {pop.name!r}: TTFS currents would exceed {limit} at any slope (fan-in too "
                            "wide for its weights; a shorter --timesteps-hint shortens the windows)")
        projections += [q.replace(weight=w) for q, w in zip(incoming, weights)]
        clock.deliver(pop.name, pop.shape, {arrive + offset: values for offset, values in events.items()})
        projections += _self_inhibition(pop.name, pop.shape, bound.astype(np.float64))
        pops.append(TtfsPopulation(pop.name, pop.shape, "hidden", s // 2, np.zeros(pop.shape, np.int32), 0, 0,
                                   scales[pop.name], pop.layer))
        slopes.append(f"{pop.name} {s}")
    clocks, clock_projections = clock.build(target)
    pops[1:1] = clocks
    encoding = InputEncoding(gain=full / scales[inp.name], max_mant=full)
    read = pops[-1].read_step
    notes = [f"ttfs coding: windows of {window} steps (read by step {coding.timesteps}); the answer is the output's "
             f"potential at step {read}; every input spikes once, hidden neurons at most once; max pooling: the "
             f"first spike of each window; {relays} relay populations carry skip connections one window per layer "
             f"skipped; {sum(c.size for c in clocks)} clock neurons; slopes " + ", ".join(slopes)]
    if window < FEW_LEVELS:  # a deep network at the default T: each activation is one of `window` + 1 values
        wider = _timeline(net, 2 * FEW_LEVELS)[0][net.populations[-1].name] + 2 * FEW_LEVELS - 1
        notes.append(f"ttfs windows of {window} steps carry {window + 1} levels per activation, too few for this "
                     f"network's depth: expect accuracy well below the ANN's (--timesteps-hint {wider} gives windows "
                     f"of {2 * FEW_LEVELS} steps)")
    return SpikingNet(tuple(pops), tuple(projections + clock_projections), encoding, net.notes), notes
