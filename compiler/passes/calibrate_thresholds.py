from __future__ import annotations

from dataclasses import replace

import numpy as np

from snnc.backends.jax.simulator import population_counts
from snnc.compiler.ir.spiking import FloatNet, LifPopulation, SpikingNet, path_depths
from snnc.compiler.passes import replay
from snnc.targets import Target

ROUNDS = 3


def calibrate_thresholds(net: SpikingNet, float_net: FloatNet, target: Target, calibration, scales, coding,
                         timesteps: int) -> tuple[SpikingNet, list[str]]:
    x = replay.calibration_samples(net, calibration, timesteps)
    activity = replay.positive_activations(float_net, x, lambda a: a.reshape(len(a), -1).sum(axis=1))
    depth = path_depths(net, longest=False)
    pops = list(net.populations)
    run = replay.Replay(net, target, x, timesteps)
    changes, fewer = [], []
    for i, pop in enumerate(pops):
        a_fit, fitted = None, len(x)
        start = depth[pop.name] + 1
        if 0 < i < len(pops) - 1 and isinstance(pop, LifPopulation) and timesteps > start:
            fitted = run.fit_samples(pop)
            wanted = activity[pop.name][:fitted].sum() / scales[pop.name] * coding.max_rate * (timesteps - start)
            if wanted > 0:
                a_fit = run.a_in(pop, 0, fitted)
                vth = _fit(pop, target, a_fit, start, wanted)
                pops[i] = _with_vth(pop, vth)
                changes.append(f"{pop.name} {pop.vth}->{vth}")
                if fitted < len(x):
                    fewer.append(f"{pop.name} {fitted}")
        run.advance(i, pops[i], a_fit=a_fit)
    calibrated = SpikingNet(tuple(pops), net.projections, net.encoding, net.notes)
    budget = replay.budget_note(len(x))
    note = (f"thresholds calibrated for T={timesteps} on {len(x)} samples{budget}, layer by layer (each population "
            "alone from its inputs as the calibrated layers before it send them): " + ", ".join(changes))
    if fewer:
        note += "; fitted on fewer samples to bound memory (population samples): " + ", ".join(fewer)
    return calibrated, [note]


def _fit(pop: LifPopulation, target: Target, a_in, start: int, wanted: float) -> int:
    """Scale vth by (spikes it gives / spikes wanted) over steps start..T, ROUNDS times."""
    vth = pop.vth
    for _ in range(ROUNDS):
        got = int(population_counts(_with_vth(pop, vth), target, a_in, start).sum())
        if got == 0:
            break
        vth = int(np.clip(round(vth * got / wanted), 1, target.vth_max))
    return vth


def _with_vth(pop, vth: int):
    return replace(pop, vth=vth, v_init=int(round(pop.v_init * vth / pop.vth)))
