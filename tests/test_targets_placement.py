"""Targets as data (built-in chips and boards, --chips, JSON boards), synapse counts computed
analytically (equal to the explicit synapse matrix), placement on cores and chips, and every
resource limit named before the expensive passes where the shapes suffice."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import write_digits
from snnc.cli import main
from snnc.compiler.ir.spiking import ConvGeometry, Projection
from snnc.compiler.ir.synapses import synapse_matrix
from snnc.compiler.passes.check_limits import check_limits
from snnc.compiler.passes.place import place
from snnc.compiler.resources import ann_macs, synapse_count, synapses_between, synapses_in, synapses_out
from snnc.errors import SnncError
from snnc.runtime.artifact import load_artifact
from snnc.targets import KAPOHO_POINT, LOIHI2, Target, get_target, target_file
from test_simulator_exact import random_net

TINY = dict(name="tiny-board", description="Loihi 2 arithmetic, 64 neurons and 4 cores per chip, 4 chips",
            neurons_per_core=64, cores_per_chip=4, chips=4)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr()


# --- counts ------------------------------------------------------------------------------------

@st.composite
def conv_projection(draw):
    groups, cin_g, per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pt, pb, pl, pr = (draw(st.integers(0, 2)) for _ in range(4))  # one-sided pads included
    H = draw(st.integers(max(1, kh - pt - pb), 7))
    W = draw(st.integers(max(1, kw - pl - pr), 7))
    OH, OW = (H + pt + pb - kh) // sh + 1, (W + pl + pr - kw) // sw + 1
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    weight = rng.integers(-3, 4, (kh, kw, cin_g, groups * per_group)).astype(np.int32)
    weight[rng.random(weight.shape) < draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))] = 0  # zero weights
    q = Projection("a", "b", weight, ConvGeometry((sh, sw), ((pt, pb), (pl, pr)), groups))
    return q, (H, W, groups * cin_g), (OH, OW, groups * per_group)


def _ranges(draw_int, n):
    a = draw_int(0, n)
    return a, draw_int(a, n)


@settings(max_examples=150, deadline=None)
@given(conv_projection(), st.data())
def test_conv_counts_equal_the_synapse_matrix(case, data):
    q, src, dst = case
    m = synapse_matrix(q, src, dst)
    assert np.array_equal(synapses_in(q, src, dst), m.getnnz(axis=1))
    assert np.array_equal(synapses_out(q, src, dst), m.getnnz(axis=0))
    assert synapse_count(q, src, dst) == m.nnz
    assert ann_macs(q, src, dst) == synapse_matrix(q.replace(weight=np.ones_like(q.weight)), src, dst).nnz
    for _ in range(4):
        (a, b), (c, d) = (_ranges(lambda lo, hi: data.draw(st.integers(lo, hi)), n) for n in (m.shape[1], m.shape[0]))
        assert synapses_between(q, src, dst, (a, b), (c, d)) == m[c:d, a:b].nnz, ((a, b), (c, d))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2 ** 31), st.data())
def test_dense_counts_equal_the_synapse_matrix(n_src, n_dst, seed, data):
    rng = np.random.default_rng(seed)
    weight = (rng.integers(-2, 3, (n_dst, n_src)) * (rng.random((n_dst, n_src)) < 0.6)).astype(np.int32)
    q, src, dst = Projection("a", "b", weight), (n_src,), (n_dst,)
    m = synapse_matrix(q, src, dst)
    assert np.array_equal(synapses_in(q, src, dst), m.getnnz(axis=1))
    assert np.array_equal(synapses_out(q, src, dst), m.getnnz(axis=0))
    assert synapse_count(q, src, dst) == m.nnz and ann_macs(q, src, dst) == n_src * n_dst
    (a, b), (c, d) = (_ranges(lambda lo, hi: data.draw(st.integers(lo, hi)), n) for n in (n_src, n_dst))
    assert synapses_between(q, src, dst, (a, b), (c, d)) == m[c:d, a:b].nnz


# --- placement and limits ----------------------------------------------------------------------

def _chip_of_neurons(pop, cores_per_chip) -> np.ndarray:
    chip = np.empty(pop.neurons, int)
    for k in range(pop.cores):
        chip[pop.bounds[k]:pop.bounds[k + 1]] = (pop.first_core + k) // cores_per_chip
    return chip


def _check_placement(net, target, placement):
    """Against the explicit synapse matrices: per-core limits, chips filled in order, exact
    inter-chip synapse counts."""
    shapes = {p.name: p.shape for p in net.populations}
    placed = {p.population: p for p in placement.populations}
    assert [p.population for p in placement.populations] == [p.name for p in net.populations if p.on_chip]
    core = 0
    for p in placement.populations:
        assert p.first_core == core
        core += p.cores
        per_neuron = sum((synapse_matrix(q, shapes[q.src], shapes[q.dst]).getnnz(axis=1)
                          for q in net.incoming(p.population)), np.zeros(p.neurons, int))
        for lo, hi in zip(p.bounds, p.bounds[1:]):
            assert hi - lo <= target.neurons_per_core
            assert per_neuron[lo:hi].sum() * target.synapse_bytes <= target.synapse_bytes_per_core
        crossing = 0
        for q in net.incoming(p.population):
            if q.src in placed:
                m = synapse_matrix(q, shapes[q.src], shapes[q.dst]).tocoo()
                src_chip = _chip_of_neurons(placed[q.src], target.cores_per_chip)
                dst_chip = _chip_of_neurons(p, target.cores_per_chip)
                crossing += int((src_chip[m.col] != dst_chip[m.row]).sum())
        assert p.inter_chip_synapses == crossing, p.population
    assert placement.cores == core and placement.chips == -(-core // target.cores_per_chip)


def test_random_net_placement_is_exact():
    net = random_net(5)
    target = LOIHI2.model_copy(update=dict(neurons_per_core=7, synapse_bytes_per_core=200, cores_per_chip=3, chips=99))
    placement, notes = place(net, target)
    _check_placement(net, target, placement)
    assert placement.chips > 2 and placement.inter_chip_synapses > 0 and "synapses cross chips" in notes[0]


def test_every_violated_resource_limit_is_listed():
    net = random_net(3)
    # output: 62 synapses per neuron > 50 bytes per core and fan-in 62 > 40; 34 cores > 8 on 1 chip
    small = LOIHI2.model_copy(update=dict(neurons_per_core=16, cores_per_chip=8, max_fan_in=40,
                                          synapse_bytes_per_core=50))
    with pytest.raises(SnncError) as info:
        check_limits(net, small)
    message = str(info.value)
    assert "population 'output' (layer output): fan-in 62 > 40" in message
    assert "population 'output' (layer output): a neuron's synapses need 62 bytes > 50 bytes" in message
    # 50 bytes per core: a (18 synapses per neuron) 2 neurons per core, output 1 neuron per core
    assert "cores 34 > 8 (1 chip(s) x 8 cores; input 4, a 25, b 1, output 4), so the network needs 5 chips, " \
           "target has 1" in message


# --- targets -----------------------------------------------------------------------------------

def test_built_in_targets():
    assert get_target("kapoho-point") is KAPOHO_POINT and KAPOHO_POINT.chips == 8
    assert "8 Loihi 2" in KAPOHO_POINT.description
    assert get_target("loihi").name == "loihi2" and get_target("loihi1").neurons_per_core == 1024
    assert KAPOHO_POINT.model_copy(update={"chips": 1}).model_dump(exclude={"name", "description"}) == \
        LOIHI2.model_dump(exclude={"name", "description"})


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Keras models with random weights: `big` needs 3 Loihi 2 chips (45 million conv synapses, counted,
    never listed); `small` reads the digits and needs 13 cores of 64 neurons."""
    import keras

    tmp = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    layers = keras.layers
    big = keras.Sequential([keras.Input((32, 32, 16)), layers.Conv2D(64, 3, padding="same", activation="relu"),
                            layers.Conv2D(64, 3, padding="same", activation="relu"),
                            layers.Conv2D(8, 4, strides=4, activation="relu"), layers.Flatten(), layers.Dense(10)])
    big.save(tmp / "big.keras")
    small = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(8, 3, padding="same", activation="relu"),
                              layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"), layers.Flatten(),
                              layers.Dense(10)])
    small.save(tmp / "small.keras")
    return tmp


def test_a_network_needing_3_chips(models, tmp_path, capsys, monkeypatch):
    from snnc import cli

    monkeypatch.setattr(cli.out, "width", 200)  # the table whole
    out = tmp_path / "big.snn"
    code, captured = _run(capsys, "compile", models / "big.keras", "-o", out)
    assert code == 2 and captured.err.count("\n") == 1 and not out.exists()
    assert "network needs 3 chips, target has 1" in captured.err
    for argv in (("--chips", "4"), ("--target", "kapoho-point")):
        code, captured = _run(capsys, "compile", models / "big.keras", *argv, "-o", out)
        assert code == 0, captured.err
        code, captured = _run(capsys, "inspect", out, "--json")
        info = json.loads(captured.out)
        placement = info["placement"]
        assert placement["chips"] == 3 and placement["chips_available"] == (4 if argv[0] == "--chips" else 8)
        assert info["target"]["chips"] == placement["chips_available"] and placement["inter_chip_synapses"] > 0
        assert sum(p["synapses"] for p in placement["populations"]) > 40_000_000
        assert [p["chips"] for p in placement["populations"]][-1] == [2]
    code, captured = _run(capsys, "inspect", out)
    text = " ".join(captured.out.split())
    second = placement["populations"][1]  # the second conv: on chips 0 to 2, nearly all its input from chip 0
    conv2 = f"| {second['cores']} (0-2) | {second['inter_chip_synapses']} |"
    assert f"placement: {placement['cores']} cores on 3 of 8 chip(s) of kapoho-point" in text
    assert f"{placement['inter_chip_synapses']:,} synapses cross chips" in text and conv2 in text.replace("│", "|")


def _write(path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_a_json_board_is_recorded_whole(models, tmp_path, capsys):
    cal, test = write_digits(tmp_path)
    board = _write(tmp_path / "tiny-board.json", TINY)
    assert target_file(board) == Target(**TINY)
    art = tmp_path / "small.snn"
    code, captured = _run(capsys, "compile", models / "small.keras", "--target", board, "-o", art)
    assert code == 0, captured.err
    (tmp_path / "tiny-board.json").unlink()  # the artifact needs the file no more
    import snnc

    info = snnc.inspect(art)
    assert info.target == Target(**TINY) and info.manifest.target == "tiny-board"
    assert info.manifest.requested_target == board and info.placement.chips == 4
    assert [p.cores for p in info.placement.populations] == [8, 4, 1]
    _check_placement(load_artifact(art).spiking, info.target, info.placement)
    code, captured = _run(capsys, "evaluate", art, "--data", test, "--samples", "20", "--timesteps", "8", "--json")
    assert code == 0, captured.err
    assert json.loads(captured.out)["samples"] == 20
    code, captured = _run(capsys, "inspect", art)
    assert "target tiny-board: 4 chip(s) x 4 cores, 64 neurons" in " ".join(captured.out.split())


def test_chips_beyond_the_board_are_refused_before_calibration(models, tmp_path, capsys, monkeypatch):
    """13 cores of 64 neurons cannot sit on 2 chips of 4 cores: refused from the lowered shapes, before
    calibration; --chips replaces a JSON board's count."""
    from snnc.compiler.passes import balance_thresholds

    cal, _ = write_digits(tmp_path)
    board = _write(tmp_path / "board.json", TINY)
    monkeypatch.setattr(balance_thresholds, "activation_statistics", lambda *a: pytest.fail("calibration ran"))
    code, captured = _run(capsys, "compile", models / "small.keras", "--target", board, "--chips", "2",
                          "--calibration", cal, "-o", tmp_path / "s.snn")
    assert code == 2 and captured.err.count("\n") == 1 and not (tmp_path / "s.snn").exists()
    assert "network needs at least 4 chips for its neurons alone (13 cores of 64 neurons" in captured.err
    assert "target has 2" in captured.err
    code, captured = _run(capsys, "compile", models / "small.keras", "--chips", "0", "-o", tmp_path / "s.snn")
    assert code == 2 and "--chips" in captured.err and captured.err.count("\n") == 1


@pytest.mark.parametrize("case,content,expected", [
    ("unknown field", dict(TINY, cores_per_cheap=4), "cores_per_cheap: extra inputs are not permitted"),
    ("negative limit", dict(TINY, neurons_per_core=-64),
     "neurons_per_core: input should be greater than or equal to 1, not -64"),
    ("zero chips", dict(TINY, chips=0), "chips: input should be greater than or equal to 1"),
    ("not JSON", '{"name": "tiny-board", neurons_per_core: 64', "not a readable JSON file"),
    ("not an object", "[1, 2]", "the file: input should be an object"),
    ("a boolean count", dict(TINY, chips=True), "chips: input should be a valid integer, not True"),
    ("built-in name", dict(TINY, name="loihi2"), "name 'loihi2' is a built-in target"),
    ("missing file", None, "no such file"),
])
def test_a_bad_target_file_is_one_line(models, tmp_path, capsys, case, content, expected):
    path = tmp_path / "bad.json"
    if content is not None:
        _write(path, content)
    code, captured = _run(capsys, "compile", models / "small.keras", "--target", path, "-o", tmp_path / "o.snn")
    assert code == 2 and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert f"target file {path}: " in captured.err and expected in captured.err, captured.err
    assert not (tmp_path / "o.snn").exists()


def test_an_artifact_from_before_placement_still_inspects():
    import snnc
    from helpers import FIXTURES

    info = snnc.inspect(FIXTURES.parent / "golden" / "lenet.snn")
    assert info.target == LOIHI2 and info.placement.cores == info.resources.cores >= 1
    assert info.placement.chips == 1 and info.placement.inter_chip_synapses == 0
