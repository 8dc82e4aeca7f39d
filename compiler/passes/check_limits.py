"""Legalize: prove the SpikingNet fits the target's bit widths, or name every violation.

Checked per population: threshold and bias mantissa/exponent ranges; every weight a fixed point of
Lava's sign-mode clip and shift (so Lava, the chip and the JAX simulator see the same integers);
the static bound sum_q max_row sum |W_q| << weight_exp on |a_in| within the population's
current_limit (no wrap of u: 2^17 - 1 for du = 4095, less for a smaller du; float32 synaptic
sums exact); fan-in per neuron; every neuron's synapses within one core's memory
and the cores the network needs (compiler/resources.py, counted, never listed) within the target's
chips. Every violated limit is listed. fan_in_violations and neuron_core_violations need only the
lowered shapes, so compile runs them on the FloatNet before any expensive pass.
"""

from __future__ import annotations

import numpy as np

from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.passes.quantize import max_input_current, to_weight_grid
from snnc.compiler.resources import core_usage, fan_in, neuron_core_violations, resource_violations  # noqa: F401 (re-exported)
from snnc.errors import SnncError
from snnc.targets import Target


def violations(net: SpikingNet, target: Target) -> list[str]:
    problems = []
    for pop in net.populations:
        incoming = net.incoming(pop.name)
        where = f"population {pop.name!r} (layer {pop.layer})"
        problems += pop.violations(target, where)
        for q in incoming:
            if not np.array_equal(to_weight_grid(q.weight, target), q.weight):
                problems.append(f"{where}: weights from {q.src!r} are not on the signed {target.weight_bits}-bit grid")
            if not target.weight_exp_min <= q.weight_exp <= target.weight_exp_max:
                problems.append(f"{where}: weight exponent {q.weight_exp} outside [{target.weight_exp_min}, {target.weight_exp_max}]")
        current = input_current(net, pop.name)
        if pop.bounded_current and current > pop.current_limit(target):
            problems.append(f"{where}: input current can reach {current} > {pop.current_limit(target)} (u would wrap)")
    return problems + fan_in_violations(net, target)


def fan_in_violations(net, target: Target, copies: int = 1) -> list[str]:
    """Populations whose neurons receive more synapses than the target allows. Needs only the
    projections' shapes, so compile checks it on the FloatNet, before any expensive step, where
    a coding that carries each value on `copies` neurons multiplies every fan-in by that many."""
    problems = []
    for pop in net.populations:
        synapses = sum(fan_in(q) for q in net.incoming(pop.name))
        if synapses * copies > target.max_fan_in:
            times = f" x {copies} neurons per value" if copies > 1 else ""
            problems.append(f"population {pop.name!r} (layer {pop.layer}): fan-in {synapses}{times} > {target.max_fan_in} "
                            "synapses per neuron")
    return problems


def check_limits(net: SpikingNet, target: Target) -> tuple[SpikingNet, list[str]]:
    usage = core_usage(net, target)
    problems = violations(net, target) + resource_violations(usage, target)
    if problems:
        raise SnncError(f"the network does not fit {target.name}: " + "; ".join(problems))
    cores = f"{sum(u.cores for u in usage)} of {target.cores_per_chip * target.chips} cores on {target.chips} chip(s)"
    bounded = [p for p in net.populations[1:] if p.bounded_current]
    if not bounded:
        unbounded = dict.fromkeys(p.current_note for p in net.populations[1:] if p.on_chip)
        return net, [f"limits of {target.name} hold ({cores}); " + "; ".join(unbounded)]
    headroom = min(pop.current_limit(target) / max(1, input_current(net, pop.name)) for pop in bounded)
    return net, [f"limits of {target.name} hold ({cores}); every possible |a_in| within its population's limit "
                 f"(u never wraps; smallest headroom {headroom:.2f}x)"]


def input_current(net: SpikingNet, name: str) -> int:
    """The largest |a_in| any neuron of population `name` can receive in a step."""
    incoming = net.incoming(name)
    return max_input_current([q.weight.astype(np.int64) << q.weight_exp for q in incoming], [q.kind for q in incoming])
