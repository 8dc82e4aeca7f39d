"""Population coding: memoryless LIF neurons (Lava's LIFReset, reset every step) carrying a
thermometer code of each activation. The step against an independent numpy model and Lava itself
on random networks; the input code against its definition; accuracy and verify on the digits."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from numpy.testing import assert_array_equal

from helpers import FIXTURES, write_digits
from lava_nets import assert_jax_equals_numpy_equals_lava, random_input_bias, random_lava_net
from snnc.compiler.ir.spiking import InputEncoding

STEPS = 10


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2 ** 31))
def test_lif_reset_jax_equals_numpy_equals_lava(seed):
    net = random_lava_net(seed, neuron="lif-reset")
    assert_jax_equals_numpy_equals_lava(net, random_input_bias(net, seed), STEPS)


@given(st.integers(2, 32), st.lists(st.floats(-0.5, 1.5), min_size=1, max_size=12))
def test_thermometer_input_counts_levels(levels, values):
    """Copy k of a value fires iff x * gain > (2k + 1) full / (2n): n x rounded, clipped to 0..n."""
    full = 4096
    x = np.array(values, np.float64)[None]
    drive = InputEncoding(gain=full, max_mant=full, levels=levels).drive(x).reshape(len(values), levels)
    assert set(np.unique(drive)) <= {0, full}
    active = (drive == full).sum(axis=1)
    expected = np.array([sum(v * full > (2 * k + 1) * full / (2 * levels) for k in range(levels)) for v in values])
    assert_array_equal(active, expected)
    assert all((row[:-1] >= row[1:]).all() for row in drive)  # a thermometer: lower levels first


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("population")
    cal, test = write_digits(tmp)
    import snnc

    out = {}
    for name, levels in (("lenet", 8), ("mlp", 16)):
        out[name] = tmp / f"{name}.snn"
        snnc.compile(FIXTURES / f"{name}.h5", calibration=cal, output=out[name], coding="population", population=levels)
    return out, test


@pytest.mark.parametrize("name", ["lenet", "mlp"])
def test_population_coding_within_one_point_and_final_after_the_depth(name, compiled):
    import snnc

    artifacts, test = compiled
    result = snnc.evaluate(artifacts[name], test, timesteps=(8, 16, 32))
    accuracy = {r.timesteps: r.accuracy for r in result.results}
    assert accuracy[8] == accuracy[16] == accuracy[32]  # combinational: the answer is final
    assert accuracy[8] >= result.ann_accuracy - 0.01, (accuracy, result.ann_accuracy)


def test_population_coded_lenet_verifies_bit_exact(compiled):
    import snnc

    artifacts, test = compiled
    result = snnc.verify(artifacts["lenet"], test, samples=2, timesteps=10)
    assert result.bit_exact, result.comparison.first


def test_fan_in_times_the_population_is_split_not_refused(tmp_path):
    """16 neurons per value multiply the LeNet's 6x6x8 = 288-synapse convolution (pooling
    composed) to 4608 > 4096: the float net is split at 4096 / 16 per neuron, so the population-
    coded network fits, keeps its accuracy and verifies bit-exact."""
    import snnc
    from snnc.compiler.resources import fan_in
    from snnc.runtime.artifact import load_artifact

    cal, test = write_digits(tmp_path)
    out = tmp_path / "lenet16.snn"
    result = snnc.compile(FIXTURES / "lenet.h5", calibration=cal, output=out, coding="population", population=16,
                          target="loihi2", chips=8)
    assert any("split into" in note for note in result.notes), result.notes
    net = load_artifact(out).spiking
    assert max(sum(fan_in(q) for q in net.incoming(p.name)) for p in net.populations) <= 4096
    evaluated = snnc.evaluate(out, test, timesteps=(8,))
    assert evaluated.results[0].accuracy >= evaluated.ann_accuracy - 0.01
    assert snnc.verify(out, test, samples=1, timesteps=8).bit_exact
