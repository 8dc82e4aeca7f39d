"""quantize_sigma_delta on hand-made float nets: an output read far above its sources' scale keeps
its weights (it once rounded them all to zero: one class for every input), and a projection that
does round to nothing is refused rather than compiled into a silent constant."""

import numpy as np
import pytest

from snnc.compiler.ir.spiking import FloatNet, FloatPopulation, Projection
from snnc.compiler.passes.quantize_sigma_delta import SigmaDeltaCoding, quantize_sigma_delta
from snnc.errors import SnncError
from snnc.targets import LOIHI2


def _net(output_weight: float) -> FloatNet:
    signs = np.where(np.random.default_rng(0).random((2, 8)) < 0.5, -1.0, 1.0).astype(np.float32)
    pops = (FloatPopulation("input", (8,), "input", np.zeros(8, np.float32), "input"),
            FloatPopulation("hidden", (8,), "hidden", np.zeros(8, np.float32), "hidden"),
            FloatPopulation("output", (2,), "output", np.zeros(2, np.float32), "output"))
    projections = (Projection("input", "hidden", np.eye(8, dtype=np.float32)),
                   Projection("hidden", "output", signs * np.float32(output_weight)))
    return FloatNet(pops, projections)


SCALES = {"input": 1.0, "hidden": 1.0, "output": 8.66}  # a pooled dense output: small weights, a large scale


def test_an_output_far_above_its_sources_keeps_its_weights():
    """At 2^10 payload per lambda these weights round to zero: the hidden population falls back to
    2^8 (its gain capped, since its state exponent is already at its maximum)."""
    net, notes = quantize_sigma_delta(_net(0.004), LOIHI2, SCALES, SigmaDeltaCoding())
    weights = net.incoming("output")[0].weight
    assert np.count_nonzero(weights) == weights.size  # the 18-bit cap of hidden layers rounded these to 0
    assert np.array_equal(np.sign(weights), np.sign(_net(0.004).projections[1].weight))
    assert "payload 2^10 (2^8 from hidden)" in notes[0]
    fine, _ = quantize_sigma_delta(_net(0.05), LOIHI2, SCALES, SigmaDeltaCoding())
    # The output's act at its scale takes every bit the 24-bit headroom allows (2^21); the hidden
    # layer's rises only until its payloads would get finer than 2^10 (2^17 with state_exp 7).
    assert fine.population("hidden").state_exp == LOIHI2.state_exp_max
    assert np.abs(fine.incoming("hidden")[0].weight).max() == 2 ** 17 / 2 ** 10
    assert np.abs(fine.incoming("output")[0].weight).max() == 2 * np.rint(0.05 * 2 ** 21 / 2 ** 10 / 8.66 / 2)


def test_a_projection_rounding_to_zero_is_refused():
    with pytest.raises(SnncError, match="'hidden' -> 'output': every sigma-delta weight rounds to 0"):
        quantize_sigma_delta(_net(1e-6), LOIHI2, SCALES, SigmaDeltaCoding())


def test_sigma_uses_its_headroom_and_no_more(data, tmp_path):
    """On the calibration data, the compiled LeNet's sigma and act (24-bit on Loihi 2) reach within
    a factor 2 of 2^(graded_bits - 1 - HEADROOM_BITS) in some population, and exceed it in none by
    more than rounding: sums 2^HEADROOM_BITS times larger than any seen still fit."""
    import snnc
    from helpers import FIXTURES
    from snnc.backends.jax.simulator import trace
    from snnc.compiler.ir.spiking import path_depths
    from snnc.compiler.passes.quantize_sigma_delta import HEADROOM_BITS
    from snnc.runtime.artifact import load_artifact

    cal, _ = data
    snnc.compile(FIXTURES / "lenet.h5", calibration=cal, output=tmp_path / "sd.snn", coding="sigma-delta")
    artifact = load_artifact(tmp_path / "sd.snn")
    net = artifact.spiking
    x = np.load(cal)["x"][:256]
    states = trace(net, artifact.target, net.encode(x), max(path_depths(net).values()) + 1)
    limit = 2 ** (artifact.target.graded_bits - 1 - HEADROOM_BITS)
    peaks = {name: max(int(np.abs(states.u[name]).max()), int(np.abs(states.v[name]).max()))
             for name in states.u if name != net.input.name}
    assert max(peaks.values()) <= 1.01 * limit, peaks
    assert max(peaks.values()) >= limit / 2, peaks


def test_bias_correction_removes_the_mean_rounding_error():
    """Each neuron's bias absorbs the mean error its rounded weights add on the calibration data
    (error weights applied to the sources' mean activations): the integer network's mean output,
    simulated, sits closer to the ANN's with the correction than without, on the same weights."""
    from snnc.backends.jax.simulator import readout
    from snnc.compiler.passes.balance_thresholds import Calibration, activation_statistics

    rng = np.random.default_rng(0)
    pops = (FloatPopulation("input", (64,), "input", np.zeros(64, np.float32), "input"),
            FloatPopulation("hidden", (48,), "hidden", rng.normal(0.2, 0.1, 48).astype(np.float32), "hidden"),
            FloatPopulation("output", (10,), "output", np.zeros(10, np.float32), "output"))
    # small weights beside one large one per neuron: most of them round coarsely, with a bias
    w1 = rng.normal(0.03, 0.02, (48, 64)) * np.where(rng.random((48, 64)) < 0.05, 20, 1)
    w2 = rng.normal(0.05, 0.05, (10, 48)) * np.where(rng.random((10, 48)) < 0.05, 20, 1)
    net = FloatNet(pops, (Projection("input", "hidden", w1.astype(np.float32)),
                          Projection("hidden", "output", w2.astype(np.float32))))
    x = rng.random((512, 64)).astype(np.float32)
    stats = activation_statistics(net, Calibration(lambda: iter([x])))
    ann = np.asarray(net.forward(x)["output"], np.float64)
    outputs = []
    for means in (None, stats.means):
        sd, _ = quantize_sigma_delta(net, LOIHI2, stats.scales, SigmaDeltaCoding(), stats.sums, means)
        outputs.append(readout(sd, LOIHI2, sd.encode(x), (3,))[3].reshape(len(x), -1).astype(np.float64))
    gain = (outputs[0] * ann).sum() / (ann * ann).sum()  # the output's act per unit: the same in both
    plain, corrected = (np.abs((out / gain - ann).mean(axis=0)).sum() for out in outputs)
    assert corrected < plain / 2, (corrected, plain)
