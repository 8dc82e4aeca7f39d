"""Spike, synapse and energy counts against an independent count from the full trace."""

import numpy as np
import pytest

import numpy_reference as ref
from snnc.backends.jax.simulator import neuron_spike_counts, trace
from snnc.runtime.counts import CountTally, energy_estimate
from snnc.targets import LOIHI2
from test_simulator_exact import random_net


def fan_out_by_one_hot(q, src_shape, dst_shape) -> np.ndarray:
    """Synapses each source neuron reaches: nonzero outputs of the projection on a one-hot input."""
    out = []
    for i in range(int(np.prod(src_shape))):
        x = np.zeros(int(np.prod(src_shape)), np.int64)
        x[i] = 1
        x = x.reshape(src_shape)
        w = q.weight.astype(np.int64)
        y = w @ x.reshape(-1) if q.conv is None else ref.conv_loops(x, w, q.conv.strides, q.conv.pads, q.conv.groups)
        out.append(int(np.count_nonzero(y)))
    return np.array(out)


@pytest.mark.parametrize("seed", [3, 4])
def test_counts_match_the_trace(seed):
    net = random_net(seed)
    bias = np.random.default_rng(seed).integers(0, 4096, (3, 5, 5, 2)).astype(np.int32)
    steps = 10
    tally = CountTally(net, steps)
    tally.add(neuron_spike_counts(net, LOIHI2, bias[:2], steps))
    tally.add(neuron_spike_counts(net, LOIHI2, bias[2:], steps))
    spikes = trace(net, LOIHI2, bias, steps).s  # (T, B, *shape)
    shapes = {p.name: p.shape for p in net.populations}
    for layer in tally.layers():
        per_neuron = spikes[layer.population].sum(axis=0).reshape(3, -1)
        synops_in = sum(((spikes[q.src].sum(axis=0).reshape(3, -1) * fan_out_by_one_hot(q, shapes[q.src], shapes[q.dst])
                          ).sum() for q in net.projections if q.dst == layer.population), 0)
        assert layer.spikes_mean == pytest.approx(per_neuron.sum() / 3)
        assert layer.spikes_max == per_neuron.max()
        assert layer.synops_in == pytest.approx(synops_in / 3)
        assert layer.histogram == tuple(np.bincount(per_neuron.ravel(), minlength=steps + 1) / 3)
    assert sum(layer.spikes_mean for layer in tally.layers()) > 0


def test_energy_estimate_is_the_sum_of_its_operations():
    net = random_net(3)
    tally = CountTally(net, 8)
    tally.add(neuron_spike_counts(net, LOIHI2, np.full((1, 5, 5, 2), 3000, np.int32), 8))
    layers = tally.layers()
    e = energy_estimate(net, layers, LOIHI2, 8)
    neurons = sum(p.size for p in net.populations)
    expected = (sum(x.synops_in for x in layers) * 23.6 + neurons * 8 * 52.0 + sum(x.spikes_mean for x in layers) * 1.7) / 1e6
    assert e.estimate is True and e.snn_uj == pytest.approx(expected)
    # conv 3x3, pad 1 on 5x5x2 -> 5x5x3: 13 valid taps per axis (2+3+3+3+2), x 2 in x 3 out channels;
    # depthwise 2x2 stride 2 -> 2x2x3: 4 taps each; dense 12 -> 4 plus the skip 50 -> 4
    assert [x.ann_macs for x in layers] == [0, 13 * 13 * 2 * 3, 2 * 2 * 3 * 4, 4 * 12 + 4 * 50]
    assert "Davies" in e.source and e.ann_uj == pytest.approx(sum(x.ann_macs for x in layers) * 4.6 / 1e6)


def test_core_estimate_and_every_violated_limit_listed():

    from snnc.compiler.passes.check_limits import check_limits
    from snnc.compiler.resources import core_usage
    from snnc.errors import SnncError

    net = random_net(3)
    usage = {u.population: u for u in core_usage(net, LOIHI2)}
    conv = net.projections[0]
    assert usage["a"].synapses == fan_out_by_one_hot(conv, (5, 5, 2), (5, 5, 3)).sum()
    assert [u.cores for u in usage.values()] == [1, 1, 1, 1]
    # 16 neurons per core: input 50 -> 4 cores, a 75 -> 5, b 12 -> 1, output 4 -> 1: 11 > 8;
    # and the output's fan-in 12 + 50 = 62 > 40: both are reported
    small = LOIHI2.model_copy(update=dict(neurons_per_core=16, cores_per_chip=8, max_fan_in=40))
    with pytest.raises(SnncError) as info:
        check_limits(net, small)
    message = str(info.value)
    assert "population 'output' (layer output): fan-in 62 > 40 synapses per neuron" in message
    assert "network: cores 11 > 8 (1 chip(s) x 8 cores; input 4, a 5, b 1, output 1)" in message


def test_report_writes_plots_and_an_index(tmp_path):
    import snnc
    from helpers import FIXTURES, write_digits

    _, test = write_digits(tmp_path)
    artifact = FIXTURES.parent / "golden" / "lenet.snn"
    index = snnc.report(artifact, test, tmp_path / "report", timesteps=(8, 16), limit=40)
    text = index.read_text()
    for png in ("accuracy.png", "spikes_synops.png", "raster.png", "weights.png"):
        assert (tmp_path / "report" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"({png})" in text
    result = snnc.evaluate(artifact, test, timesteps=(8, 16), limit=40)
    assert f"| 16 | {100 * result.results[1].accuracy:.2f} |" in text
    assert "quantization error" in text and "Estimates, not measurements" in text
