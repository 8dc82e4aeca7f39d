"""Layer-wise threshold calibration (compiler/passes/calibrate_thresholds.py): a population replayed
alone from its sources' recorded spikes is the whole network's population, step for step; the pass
gives the thresholds the whole-network definition gives, chunked or not; it simulates the whole
network not once; and the digits LeNet it calibrates keeps its accuracy targets."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import snnc
import snnc.backends.jax.simulator as simulator
import snnc.compiler.passes.calibrate_thresholds as calibrate
import snnc.compiler.passes.replay as replay
from helpers import FIXTURES, captured_calibration
from lava_nets import random_input_bias, random_lava_net
from test_simulator_exact import _pop, random_net
from snnc.backends.jax.simulator import population_counts, population_trains, synaptic_input_trains, trace
from snnc.compiler.ir.spiking import ConvGeometry, InputEncoding, Projection, SpikeInput, SpikingNet, path_depths
from snnc.targets import LOIHI2

WHOLE_NETWORK = ("_layerwise_readout", "_trace_scan")  # every whole-network simulation runs one


def overhanging_net(seed: int) -> SpikingNet:
    """Kernels larger than their input maps (pooling composed into a 6x6 kernel on 4x4 maps, 3x3 on
    2x2 maps, as in VGG-16's last block), which the replay routes as patches times a matrix."""
    rng = np.random.default_rng(seed)
    w = lambda *shape: 2 * rng.integers(-40, 41, shape).astype(np.int32)  # noqa: E731
    same = ConvGeometry((1, 1), ((1, 1), (1, 1)), 1)
    pops = (SpikeInput("input", (4, 4, 3), "input", 4096, 1.0, "input"), _pop(rng, "a", (2, 2, 6), "hidden"),
            _pop(rng, "b", (2, 2, 5), "hidden"), _pop(rng, "output", (3,), "output"))
    projections = (Projection("input", "a", w(6, 6, 3, 6), ConvGeometry((2, 2), ((2, 2), (2, 2)), 1)),
                   Projection("a", "b", w(3, 3, 6, 5), same, 1), Projection("input", "b", w(4, 4, 3, 5), ConvGeometry((2, 2), ((1, 1), (1, 1)), 1)),
                   Projection("b", "output", w(3, 20)))
    return SpikingNet(pops, projections, InputEncoding(1.0, 4096))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("family", ["lava-lif", "lava-sigma-delta", "exact", "overhanging"])
def test_a_population_replayed_from_its_sources_is_the_whole_networks(family, seed):
    if family in ("exact", "overhanging"):
        net = (random_net if family == "exact" else overhanging_net)(seed)
    else:
        net = random_lava_net(seed, family.removeprefix("lava-"))
    drive, steps = random_input_bias(net, seed, batch=3), 14
    whole = trace(net, LOIHI2, drive, steps).s  # (T, B, *shape)
    assert_array_equal(population_trains(net.input, LOIHI2, None, drive, steps), whole[net.input.name])
    for pop in net.populations[1:]:
        a_in = synaptic_input_trains(net, pop.name, {q.src: whole[q.src] for q in net.incoming(pop.name)})
        assert_array_equal(population_trains(pop, LOIHI2, a_in), whole[pop.name], err_msg=pop.name)
        fired = whole[pop.name] != 0
        assert_array_equal(population_counts(pop, LOIHI2, a_in, start=4), fired[3:].sum(axis=0))
        current = np.random.default_rng(seed).integers(-2 ** 10, 2 ** 10, pop.shape, dtype=np.int32)
        from_step_4 = (np.arange(1, steps + 1) >= 4).reshape(-1, 1, *[1] * len(pop.shape)) * current
        driven = np.asarray(population_trains(pop, LOIHI2, np.asarray(a_in) + from_step_4)) != 0
        assert_array_equal(population_counts(pop, LOIHI2, a_in, 4, current), driven[3:].sum(axis=0))
    assert sum(int((s != 0).sum()) for s in whole.values()) > 0


@pytest.fixture(scope="module")
def lenet_inputs(data, tmp_path_factory):
    """The arguments compile hands the calibration pass for the digits LeNet."""
    return captured_calibration("calibrate_thresholds", FIXTURES / "lenet.h5", data[0],
                                tmp_path_factory.mktemp("lenet") / "captured.snn", reset="zero")


def _whole_network_thresholds(args, kwargs, samples: int) -> dict[str, int]:
    """The definition, by simulating the whole network for every trial threshold (the pass before
    it went layer by layer)."""
    net, float_net, target, calibration, scales = args
    coding, steps = kwargs["coding"], kwargs["timesteps"]
    x = np.concatenate(list(calibration.batches()))[:samples]
    activity = replay.positive_activations(float_net, x, lambda a: a.reshape(len(a), -1).sum(axis=1))
    depth, pops = path_depths(net, longest=False), list(net.populations)
    for i, pop in enumerate(pops[1:-1], start=1):
        start = depth[pop.name] + 1
        wanted = activity[pop.name].sum() / scales[pop.name] * coding.max_rate * (steps - start)
        vth = pop.vth
        for _ in range(calibrate.ROUNDS):
            trial = SpikingNet(tuple(pops[:i] + [calibrate._with_vth(pop, vth)] + pops[i + 1:]), net.projections,
                               net.encoding, net.notes)
            got = simulator.spike_counts(trial, target, trial.encode(x), steps, start)[pop.name]
            if got == 0:
                break
            vth = int(np.clip(round(vth * got / wanted), 1, target.vth_max))
        pops[i] = calibrate._with_vth(pop, vth)
    return {p.name: p.vth for p in pops}


def _thresholds(net: SpikingNet) -> dict[str, int]:
    return {p.name: p.vth for p in net.populations}


def test_thresholds_equal_the_whole_network_definition(lenet_inputs):
    args, kwargs = lenet_inputs
    calibrated, notes = calibrate.calibrate_thresholds(*args, **kwargs)
    assert _thresholds(calibrated) == _whole_network_thresholds(args, kwargs, replay.SAMPLES)
    assert _thresholds(calibrated) != _thresholds(args[0])  # calibration changed something
    assert "fewer samples" not in notes[0]


def test_chunks_change_nothing_and_a_bounded_fit_uses_the_first_samples(lenet_inputs, monkeypatch):
    args, kwargs = lenet_inputs
    whole = _thresholds(calibrate.calibrate_thresholds(*args, **kwargs)[0])
    steps, widest = kwargs["timesteps"], max(p.size for p in args[0].populations)
    monkeypatch.setattr(replay, "CHUNK_BYTES", 4 * steps * widest * 7)  # chunks of 7 samples or more
    assert _thresholds(calibrate.calibrate_thresholds(*args, **kwargs)[0]) == whole
    monkeypatch.setattr(replay, "FIT_BYTES", 4 * steps * widest * 40)  # the widest fitted on 35 samples
    bounded, notes = calibrate.calibrate_thresholds(*args, **kwargs)
    assert "fitted on fewer samples to bound memory" in notes[0]
    run = replay.Replay(args[0], LOIHI2, np.zeros((256, 1)), steps)
    fitted = run.fit_samples(max(args[0].populations[1:-1], key=lambda p: p.size))
    assert fitted < 256 and f" {fitted}" in notes[0]


def test_no_whole_network_simulation(lenet_inputs, monkeypatch):
    args, kwargs = lenet_inputs
    calls = {name: 0 for name in (*WHOLE_NETWORK, "synaptic_input_trains", "population_counts")}

    def counting(module, name):
        inner = getattr(module, name)

        def counted(*a, **k):
            calls[name] += 1
            return inner(*a, **k)
        monkeypatch.setattr(module, name, counted)

    for name in WHOLE_NETWORK:
        counting(simulator, name)
    counting(replay, "synaptic_input_trains")
    counting(calibrate, "population_counts")
    net = args[0]
    calibrate.calibrate_thresholds(*args, **kwargs)
    hidden = len(net.populations) - 2
    assert all(calls[name] == 0 for name in WHOLE_NETWORK), calls
    assert calls["synaptic_input_trains"] == hidden  # each a_in routed once (one chunk), reused every round
    assert 0 < calls["population_counts"] <= calibrate.ROUNDS * hidden


def test_calibrated_lenet_keeps_its_accuracy_targets(data, tmp_path):
    cal, test = data
    result = snnc.compile(FIXTURES / "lenet.h5", calibration=cal, output=tmp_path / "lenet.snn", reset="zero")
    assert any("layer by layer" in note for note in result.notes)
    evaluated = snnc.evaluate(tmp_path / "lenet.snn", test, timesteps=(16, 32, 64))
    gaps = {r.timesteps: evaluated.ann_accuracy - r.accuracy for r in evaluated.results}
    assert gaps[16] <= 0.015 and gaps[32] <= 0.010 and gaps[64] <= 0.005, gaps
