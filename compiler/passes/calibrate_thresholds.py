"""Threshold calibration: correct each population's firing gain on calibration data.

A hard-reset neuron loses the overshoot v - V at every spike, so it fires less than its ANN
activation asks for, and the loss compounds over layers. Layer by layer (in topological order),
this pass simulates the integer network on a calibration subset for `timesteps` steps, compares
the population's spike count after its first input arrives with the count the ANN activations
ask for (rho * a / lambda per step), and scales the threshold by their ratio (a few rounds per
layer). Weights and biases are unchanged, so all limits proven by quantize still hold.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from snnc.backends.jax.simulator import spike_counts
from snnc.compiler.ir.spiking import FloatNet, SpikingNet
from snnc.targets import Target

SAMPLES = 256
ROUNDS = 3


def _depths(net: SpikingNet) -> dict[str, int]:
    depth = {net.input.name: 0}
    for pop in net.populations[1:]:
        depth[pop.name] = 1 + min(depth[q.src] for q in net.incoming(pop.name))
    return depth


def calibrate_thresholds(net: SpikingNet, float_net: FloatNet, target: Target, calibration, scales, coding,
                         timesteps: int) -> tuple[SpikingNet, list[str]]:
    x = np.concatenate(list(_first(calibration.batches(), SAMPLES)))
    activations = float_net.forward(x)
    depth = _depths(net)
    pops = list(net.populations)
    changes = []
    for i, pop in enumerate(pops[1:-1], start=1):
        start = depth[pop.name] + 1
        if timesteps <= start:
            continue
        wanted = float(np.maximum(np.asarray(activations[pop.name]), 0).sum()) / scales[pop.name] * coding.max_rate
        wanted *= timesteps - start
        if wanted <= 0:
            continue
        vth = pop.vth
        for _ in range(ROUNDS):
            trial = SpikingNet(tuple(pops[:i] + [_with_vth(pop, vth)] + pops[i + 1:]), net.projections, net.encoding, net.notes)
            got = float(spike_counts(trial, target, trial.encode(x), timesteps, start)[pop.name])
            if got == 0:
                break
            vth = int(np.clip(round(vth * got / wanted), 1, target.vth_max))
        pops[i] = _with_vth(pop, vth)
        changes.append(f"{pop.name} {pop.vth}->{vth}")
    calibrated = SpikingNet(tuple(pops), net.projections, net.encoding, net.notes)
    return calibrated, [f"thresholds calibrated for T={timesteps} on {len(x)} samples: " + ", ".join(changes)]


def _with_vth(pop, vth: int):
    return replace(pop, vth=vth, v_init=int(round(pop.v_init * vth / pop.vth)))


def _first(batches, count: int):
    taken = 0
    for batch in batches:
        if taken >= count:
            return
        yield batch[: count - taken]
        taken += len(batch)
