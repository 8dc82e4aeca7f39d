"""Scale search (compiler/passes/search_scales.py): the scale chosen from balance_thresholds'
histogram is as good, on the raw activations, as a brute-force search over the samples with a plain
numpy quantizer; fewer levels choose a smaller scale; a capped ReLU's parts share the scale that is
best for their difference; and the population-coded integer network reads closer to the ANN with
the searched scales than with a fixed percentile."""

import numpy as np
import pytest

from snnc.backends.jax.simulator import readout
from snnc.compiler.ir.spiking import FloatNet, FloatPopulation, Projection
from snnc.compiler.passes.balance_thresholds import Calibration, activation_statistics
from snnc.compiler.passes.quantize_population import PopulationCoding, quantize_population
from snnc.compiler.passes.search_scales import GRID, search_scales
from snnc.targets import LOIHI2

RNG = np.random.default_rng(0)


def _identity_net(n: int) -> FloatNet:
    """input -> hidden (identity weights: the hidden activations are the inputs) -> output."""
    pops = (FloatPopulation("input", (n,), "input", np.zeros(n, np.float32), "input"),
            FloatPopulation("hidden", (n,), "hidden", np.zeros(n, np.float32), "hidden"),
            FloatPopulation("output", (1,), "output", np.zeros(1, np.float32), "output"))
    return FloatNet(pops, (Projection("input", "hidden", np.eye(n, dtype=np.float32)),
                           Projection("hidden", "output", np.ones((1, n), np.float32))))


def _plain_error(a: np.ndarray, scale: float, levels: int) -> float:
    """Mean squared error of the L-level quantization of a at this scale, one value at a time."""
    step = scale / levels
    q = np.array([min(round(v / step), levels) * step for v in a])
    return float(np.mean((q - a) ** 2))


def _searched(x: np.ndarray, levels: int, net: FloatNet | None = None) -> dict[str, float]:
    net = net or _identity_net(x.shape[1])
    stats = activation_statistics(net, Calibration(lambda: iter([x])))
    return search_scales(net, stats, levels)[0].scales


@pytest.mark.parametrize("levels", [4, 12, 60])
def test_the_histogram_search_matches_a_brute_force_search_on_the_samples(levels):
    x = RNG.exponential(1.0, size=(400, 10)).astype(np.float32)  # heavy-tailed, as activations are
    a = x.ravel().astype(np.float64)
    chosen = _searched(x, levels)["hidden"]
    candidates = a.max() * GRID[::2]
    best = min(_plain_error(a, s, levels) for s in candidates)
    assert _plain_error(a, chosen, levels) <= 1.01 * best
    if levels <= 12:
        assert chosen < np.percentile(a, 99.9)  # the fixed percentile would spend levels on the tail


def test_fewer_levels_choose_a_smaller_scale():
    x = RNG.exponential(1.0, size=(400, 10)).astype(np.float32)
    scales = [_searched(x, levels)["hidden"] for levels in (2, 4, 8, 16, 64)]
    assert all(a < b for a, b in zip(scales, scales[1:])), scales


def test_a_capped_relu_shares_the_scale_best_for_its_difference():
    """relu6(z) = relu(z) - relu(z - 6): the pair shares one scale, the best on the samples for what
    the next layer reads, Q(a) - Q(relu(a - 6)) against min(a, 6)."""
    n, levels = 8, 6
    pops = (FloatPopulation("input", (n,), "input", np.zeros(n, np.float32), "input"),
            FloatPopulation("h", (n,), "hidden", np.zeros(n, np.float32), "h"),
            FloatPopulation("h.above6", (n,), "hidden", np.full(n, -6.0, np.float32), "h"),
            FloatPopulation("output", (1,), "output", np.zeros(1, np.float32), "output"))
    eye = np.eye(n, dtype=np.float32)
    net = FloatNet(pops, (Projection("input", "h", eye), Projection("input", "h.above6", eye),
                          Projection("h", "output", np.ones((1, n), np.float32)),
                          Projection("h.above6", "output", -np.ones((1, n), np.float32))))
    x = RNG.exponential(3.0, size=(400, n)).astype(np.float32)
    scales = _searched(x, levels, net)
    assert scales["h"] == scales["h.above6"]
    a = x.ravel().astype(np.float64)

    def pair_error(scale):
        step = scale / levels
        q = lambda v: min(round(v / step), levels) * step  # noqa: E731
        return float(np.mean([(q(v) - q(max(v - 6, 0)) - min(v, 6)) ** 2 for v in a]))

    best = min(pair_error(s) for s in a.max() * GRID[::2])
    assert pair_error(scales["h"]) <= 1.01 * best
    assert pair_error(_searched(x, levels)["hidden"]) > 1.1 * best  # the scale for relu(z) alone is not it


def test_population_coding_reads_closer_to_the_ann_with_searched_scales():
    n_in, n_hidden, levels = 16, 32, 4
    pops = (FloatPopulation("input", (n_in,), "input", np.zeros(n_in, np.float32), "input"),
            FloatPopulation("hidden", (n_hidden,), "hidden", np.zeros(n_hidden, np.float32), "hidden"),
            FloatPopulation("output", (4,), "output", np.zeros(4, np.float32), "output"))
    net = FloatNet(pops, (Projection("input", "hidden", RNG.normal(size=(n_hidden, n_in)).astype(np.float32)),
                          Projection("hidden", "output", RNG.normal(size=(4, n_hidden)).astype(np.float32))))
    x = RNG.random((512, n_in)).astype(np.float32) ** 3  # sparse inputs: heavy-tailed hidden activations
    ann = np.asarray(net.forward(x)["output"], np.float64)
    stats = activation_statistics(net, Calibration(lambda: iter([x]), percentile=100.0))
    errors = {}
    for name, scales in (("maximum", stats.scales), ("searched", search_scales(net, stats, levels)[0].scales)):
        spiking, _ = quantize_population(net, LOIHI2, scales, PopulationCoding(levels=levels))
        out = readout(spiking, LOIHI2, spiking.encode(x), (3,))[3].reshape(len(x), -1).astype(np.float64)
        gain = np.linalg.lstsq(out.reshape(-1, 1), ann.reshape(-1), rcond=None)[0][0]  # the readout's unit
        errors[name] = float(np.sqrt(np.mean((gain * out - ann) ** 2)) / ann.std())
    assert errors["searched"] < 0.8 * errors["maximum"], errors
