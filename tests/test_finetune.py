"""snnc finetune: the training forward pass is the integer network itself (exactly), training lowers
the loss and raises accuracy, and the fine-tuned artifact verifies bit-exact against Lava."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from helpers import FIXTURES, digits, write_digits
from snnc.cli import main

T = 6  # a few steps past the LeNet's depth, where rate coding loses most


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    import snnc

    tmp = tmp_path_factory.mktemp("finetune")
    cal, test = write_digits(tmp)
    x_train, _, y_train, _ = digits()
    np.savez(tmp / "train.npz", x=x_train, y=y_train)
    parent = tmp / "lenet.snn"
    snnc.compile(FIXTURES / "lenet.h5", calibration=cal, output=parent, timesteps_hint=8)
    result = snnc.finetune(parent, tmp / "train.npz", timesteps=T, output=tmp / "tuned.snn", epochs=2,
                           validation=test)
    return tmp, parent, test, result


def test_mirror_forward_equals_the_integer_simulator(tuned):
    """Every readout of the differentiable mirror, at every step, is the simulator's integer."""
    from snnc.backends.jax.simulator import readout
    from snnc.compiler.finetune import input_trains, mirror_readouts, shadows
    from snnc.runtime.artifact import load_artifact

    tmp, parent, test, result = tuned
    art = load_artifact(tmp / "tuned.snn")
    net, target = art.spiking, art.target
    x = np.load(test)["x"][:24]
    got = np.asarray(mirror_readouts(shadows(net), net, target, input_trains(net, x, 12)))
    want = readout(net, target, net.encode(x), tuple(range(1, 13)))
    for t in range(1, 13):
        assert_array_equal(got[t - 1].astype(np.int64), want[t].reshape(len(x), -1))


def test_every_layer_gets_a_gradient(tuned):
    """The surrogate gradient reaches every projection and threshold, not only the output's (a
    boolean spike function once stopped it at the output layer: only the last layer trained)."""
    import jax

    from snnc.compiler.finetune import input_trains, loss_fn, shadows
    from snnc.runtime.artifact import load_artifact

    tmp, parent, test, result = tuned
    art = load_artifact(parent)
    net, target = art.spiking, art.target
    data = np.load(test)
    grads = jax.grad(loss_fn)(shadows(net), net, target, input_trains(net, data["x"][:32], T),
                              data["y"][:32], "ce")
    no_gradient = [f"{q.src}->{q.dst}" for q, g in zip(net.projections, grads["w"]) if not np.asarray(g).any()]
    assert not no_gradient, no_gradient
    assert all(np.asarray(g) != 0 for g in grads["vth"].values()), grads["vth"]


def test_weights_grown_beyond_the_leak_are_scaled_back(tuned):
    """Training can grow a population's weights past the current its leak keeps u from wrapping;
    within_current scales that population down (weights, bias, threshold) and leaves du as
    compiled, so the tuned network passes check_limits and still answers as before."""
    import jax

    from snnc.backends.jax.simulator import readout
    from snnc.compiler.finetune import shadows, trained_net, within_current
    from snnc.compiler.passes.check_limits import check_limits, input_current
    from snnc.runtime.artifact import load_artifact

    tmp, parent, test, result = tuned
    art = load_artifact(tmp / "tuned.snn")
    net, target = art.spiking, art.target
    hidden = next(p for p in net.populations if p.role == "hidden" and p.kind == "lif")
    params = shadows(net)
    params["w"] = [w * 4 if q.dst == hidden.name else w for q, w in zip(net.projections, params["w"])]
    params["b"][hidden.name] = params["b"][hidden.name] * 4
    params["vth"][hidden.name] = params["vth"][hidden.name] * 4
    grown = trained_net(params, net, target)
    assert input_current(grown, hidden.name) > hidden.current_limit(target)  # beyond what u holds
    fitted = trained_net(within_current(params, net, target), net, target)
    check_limits(fitted, target)  # raises if any limit is broken
    assert [p.du for p in fitted.populations if p.on_chip] == [p.du for p in net.populations if p.on_chip]
    x = np.load(test)["x"][:64]
    classes = [readout(n, target, n.encode(x), (T,))[T].reshape(len(x), -1).argmax(1) for n in (net, fitted)]
    assert (classes[0] == classes[1]).mean() > 0.9
    assert jax.tree.structure(params) == jax.tree.structure(within_current(params, net, target))


def test_loss_falls_and_accuracy_rises(tuned):
    import snnc

    tmp, parent, test, result = tuned
    history = result.history
    assert history[-1].loss < history[0].loss
    before = snnc.evaluate(parent, test, (T,)).results[0].accuracy
    after = snnc.evaluate(tmp / "tuned.snn", test, (T,)).results[0].accuracy
    assert after > before, (before, after)
    assert result.kept_epoch >= 1 and history[result.kept_epoch - 1].validation_accuracy == after
    assert after == max(h.validation_accuracy for h in history)  # the best epoch's network is kept


def test_the_parent_is_kept_when_no_epoch_beats_it(tuned):
    """With validation, finetune returns the best epoch's network, the parent's (epoch 0) if no
    epoch beats it on the validation data; here a validation that always prefers the parent."""
    from snnc.compiler.finetune import finetune
    from snnc.compiler.options import FinetuneOptions
    from snnc.runtime.artifact import load_artifact

    tmp, parent, test, result = tuned
    art = load_artifact(parent)
    data = np.load(test)
    batches = lambda: iter([(data["x"][:32], data["y"][:32])])  # noqa: E731
    scores = iter([0.9, 0.5, 0.8])
    net, history, kept = finetune(art.spiking, art.target, batches, FinetuneOptions(timesteps=T, epochs=2),
                                  lambda n: next(scores))
    assert kept == 0 and net is art.spiking and [h["validation_accuracy"] for h in history] == [0.5, 0.8]
    scores = iter([0.5, 0.9, 0.8])
    net, history, kept = finetune(art.spiking, art.target, batches, FinetuneOptions(timesteps=T, epochs=2),
                                  lambda n: next(scores))
    assert kept == 1 and net is not art.spiking


def test_manifest_records_the_parent_data_and_history(tuned):
    from snnc.runtime.artifact import load_artifact
    from snnc.runtime.data import file_sha256

    tmp, parent, test, result = tuned
    record = load_artifact(tmp / "tuned.snn").manifest.finetune
    assert record.parent_sha256 == file_sha256(parent) and record.data.sha256 == file_sha256(tmp / "train.npz")
    assert (record.timesteps, record.epochs, record.loss, len(record.history)) == (T, 2, "ce", 2)
    assert record.kept_epoch == result.kept_epoch


def test_tuned_artifact_verifies_bit_exact(tuned):
    import snnc

    tmp, parent, test, result = tuned
    check = snnc.verify(tmp / "tuned.snn", test, samples=2, timesteps=10)
    assert check.bit_exact, check.comparison.first


def test_sigma_delta_is_refused_in_one_line(tuned, capsys):
    import snnc

    tmp, parent, test, result = tuned
    snnc.compile(FIXTURES / "mlp.h5", output=tmp / "sd.snn", coding="sigma-delta")
    code = main(["finetune", str(tmp / "sd.snn"), "--data", str(tmp / "train.npz"), "--timesteps", "4",
                 "-o", str(tmp / "x.snn")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "rate-coded LIF" in err and not (tmp / "x.snn").exists()
