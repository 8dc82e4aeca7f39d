"""Cross-layer equalization (compiler/passes/equalize_channels.py): the float network computes the
same function after it (dense, convolutions with groups, depthwise, a capped ReLU's two parts), and
on a network whose channels span two decades (as BatchNorm folding leaves them) the sigma-delta
integer network's output error falls several-fold."""

import numpy as np

from snnc.backends.jax.simulator import readout
from snnc.compiler.ir.spiking import ConvGeometry, FloatNet, FloatPopulation, Projection
from snnc.compiler.passes.balance_thresholds import Calibration, activation_statistics
from snnc.compiler.passes.equalize_channels import equalize_channels
from snnc.compiler.passes.quantize_sigma_delta import SigmaDeltaCoding, quantize_sigma_delta
from snnc.targets import LOIHI2

RNG = np.random.default_rng(0)


def _pop(name, shape, role="hidden", bias=0.1):
    return FloatPopulation(name, shape, role, (bias * RNG.normal(size=shape)).astype(np.float32), name)


def _conv(src, dst, kernel, cin, cout, groups, stride=1):
    weight = RNG.normal(size=(kernel, kernel, cin // groups, cout)) * 10.0 ** RNG.uniform(-1.5, 0, cout)
    pad = (kernel - 1) // 2
    return Projection(src, dst, weight.astype(np.float32), ConvGeometry((stride, stride), ((pad, pad), (pad, pad)), groups))


def test_the_function_is_unchanged():
    pops = (_pop("input", (6, 6, 2), "input", 0.0), _pop("a", (6, 6, 8)), _pop("b", (6, 6, 8)), _pop("c", (3, 3, 4)),
            _pop("c.above6", (3, 3, 4)), _pop("d", (5,)), _pop("output", (3,), "output"))
    projections = (_conv("input", "a", 3, 2, 8, 1), _conv("a", "b", 3, 8, 8, 8),  # depthwise
                   _conv("b", "c", 3, 8, 4, 2, stride=2), _conv("b", "c.above6", 3, 8, 4, 2, stride=2),  # grouped
                   Projection("c", "d", RNG.normal(size=(5, 36)).astype(np.float32)),
                   Projection("c.above6", "d", RNG.normal(size=(5, 36)).astype(np.float32)),
                   Projection("d", "output", RNG.normal(size=(3, 5)).astype(np.float32)),
                   Projection("a", "output", RNG.normal(size=(3, 288)).astype(np.float32)))  # a skip
    net = FloatNet(pops, projections)
    equalized, notes = equalize_channels(net)
    x = RNG.random((16, 6, 6, 2)).astype(np.float32)
    before, after = net.forward(x), equalized.forward(x)
    np.testing.assert_allclose(after["output"], before["output"], rtol=1e-4, atol=1e-5)
    assert "of 5 populations" in notes[0]  # a, b, c with c.above6 (one group), d
    changed = [name for name in "abcd" if not np.allclose(after[name], before[name], rtol=1e-3)]
    assert changed == ["a", "b", "c", "d"]  # every hidden population's channels were rescaled


def test_two_decades_of_channel_ranges_no_longer_round_away():
    k = 10.0 ** np.linspace(-2, 0, 16)  # channel gains
    pops = (FloatPopulation("input", (12,), "input", np.zeros(12, np.float32), "input"),
            FloatPopulation("hidden", (16,), "hidden", (0.1 * k).astype(np.float32), "hidden"),
            FloatPopulation("output", (4,), "output", np.zeros(4, np.float32), "output"))
    net = FloatNet(pops, (Projection("input", "hidden", (RNG.normal(size=(16, 12)) * k[:, None]).astype(np.float32)),
                          Projection("hidden", "output", (RNG.normal(size=(4, 16)) / k).astype(np.float32))))
    x = RNG.random((512, 12)).astype(np.float32)
    ann = np.asarray(net.forward(x)["output"], np.float64)
    errors = []
    for float_net in (net, equalize_channels(net)[0]):
        stats = activation_statistics(float_net, Calibration(lambda: iter([x])))
        sd, _ = quantize_sigma_delta(float_net, LOIHI2, stats.scales, SigmaDeltaCoding(), stats.sums, stats.means)
        out = readout(sd, LOIHI2, sd.encode(x), (3,))[3].reshape(len(x), -1).astype(np.float64)
        gain = (out * ann).sum() / (ann * ann).sum()
        errors.append(np.sqrt(((out / gain - ann) ** 2).mean()) / ann.std())
    assert errors[1] < errors[0] / 4, errors
