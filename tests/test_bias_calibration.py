"""Bias calibration for reset by subtraction (compiler/passes/calibrate_biases.py): the layer-by-layer
replay of a network with self-projections and tonic sources is the whole network's, step for step;
the pass shrinks every hidden population's per-channel gap to the ANN's rates without simulating
the whole network except to compare the answers; and it keeps its biases only when the network
agrees with the ANN more often on the calibration samples."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import snnc.backends.jax.simulator as simulator
import snnc.compiler.passes.calibrate_biases as calibrate
from helpers import FIXTURES, captured_calibration
from test_reset_by_subtraction import random_rate_net
from snnc.backends.jax.simulator import own_projections, trace
from snnc.compiler.ir.spiking import SpikingNet, path_depths
from snnc.compiler.passes import replay
from snnc.targets import LOIHI2


@pytest.mark.parametrize("seed", range(3))
def test_the_replay_is_the_whole_network(seed):
    net, drive = random_rate_net(seed)
    steps = 18
    x = np.asarray(drive, np.float64) / net.encoding.gain  # encode() gives the drive back
    assert_array_equal(net.encode(x), drive)
    whole = trace(net, LOIHI2, drive, steps).s
    run = replay.Replay(net, LOIHI2, x, steps)
    for i, pop in enumerate(net.populations):
        readers = [q.dst for q in net.projections if q.src == pop.name and q.dst != pop.name]
        run.advance(i, pop, own_projections(net, pop.name))
        if readers:
            got = np.unpackbits(run.records[pop.name], axis=-1, count=pop.size).view(bool)
            assert_array_equal(got.reshape(whole[pop.name].shape), whole[pop.name], err_msg=pop.name)


@pytest.fixture(scope="module")
def depthwise_inputs(data, tmp_path_factory):
    """The arguments compile hands the pass for the digits depthwise net (BN folded into depthwise
    convolutions: the model whose rates drift most)."""
    return captured_calibration("calibrate_biases", FIXTURES / "depthwise.h5", data[0],
                                tmp_path_factory.mktemp("dw") / "dw.snn", timesteps_hint=24, percentile=99.9)


def _channel_gaps(net: SpikingNet, float_net, scales, x, steps: int, rho: float) -> dict[str, float]:
    """Per hidden population, the mean |rate gap| per channel, in spikes per step (whole network), to
    the ANN's activation clipped at the scale."""
    spikes = trace(net, LOIHI2, net.encode(x), steps).s
    activations = float_net.forward(x)
    depth = path_depths(float_net)
    gaps = {}
    for pop in float_net.populations:
        if pop.role != "hidden":
            continue
        d = depth[pop.name]
        fired = np.asarray(spikes[pop.name][d:], np.float64).mean(axis=0)
        wanted = rho * np.clip(np.asarray(activations[pop.name]) / scales[pop.name], 0, 1)  # a rate is at most rho
        gaps[pop.name] = float(np.abs(calibrate._per_channel(fired - wanted).mean(axis=0)).mean())
    return gaps


def test_the_per_channel_gap_shrinks_in_every_layer(depthwise_inputs, monkeypatch):
    args, kwargs = depthwise_inputs
    net, float_net, target, calibration, scales = args
    monkeypatch.setattr(calibrate, "_better", lambda *a: True)  # keep it: the gap is tested here
    fitted = calibrate.calibrate_biases(*args, **kwargs)[0]
    x = np.concatenate(list(calibration.batches()))[:replay.SAMPLES]
    before = _channel_gaps(net, float_net, scales, x, kwargs["timesteps"], kwargs["coding"].max_rate)
    after = _channel_gaps(fitted, float_net, scales, x, kwargs["timesteps"], kwargs["coding"].max_rate)
    assert all(after[name] < before[name] for name in before), (before, after)
    assert sum(after.values()) < 0.5 * sum(before.values()), (before, after)
    assert [p.vth for p in fitted.populations] == [p.vth for p in net.populations]  # only biases change


def test_one_readout_and_no_whole_network_stepping(depthwise_inputs, monkeypatch):
    args, kwargs = depthwise_inputs
    calls = {"_layerwise_readout": 0, "_trace_scan": 0}  # the readout: only the uncalibrated network's answers

    def counting(name):
        inner = getattr(simulator, name)

        def counted(*a, **k):
            calls[name] += 1
            return inner(*a, **k)
        monkeypatch.setattr(simulator, name, counted)

    for name in calls:
        counting(name)
    calibrate.calibrate_biases(*args, **kwargs)  # the calibrated network's answers are replayed layer by layer
    assert calls == {"_layerwise_readout": 1, "_trace_scan": 0}


@pytest.mark.parametrize("keeps", [True, False])
def test_biases_are_kept_only_when_the_answers_agree_more_often(depthwise_inputs, monkeypatch, keeps):
    args, kwargs = depthwise_inputs
    net = args[0]
    seen = []
    monkeypatch.setattr(calibrate, "_better", lambda *a: seen.append(a) or keeps)
    fitted, notes = calibrate.calibrate_biases(*args, **kwargs)
    assert (fitted is not net) == keeps
    assert ("not kept" in notes[0]) != keeps
    calibrated, uncalibrated = seen[0]
    assert f"{100 * calibrated:.1f} % calibrated, {100 * uncalibrated:.1f} % not" in notes[0]
    x = np.concatenate(list(args[3].batches()))[:replay.SAMPLES]
    ann = replay.ann_classes(args[1], x)
    answers = simulator.readout(net, LOIHI2, net.encode(x), (kwargs["timesteps"],))[kwargs["timesteps"]]
    assert uncalibrated == float((answers.reshape(len(x), -1).argmax(axis=1) == ann).mean())  # the replayed answers
