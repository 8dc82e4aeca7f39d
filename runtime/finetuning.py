"""snnc finetune: train a compiled artifact's integer network on labelled data (compiler/finetune.py)
and write it as a new artifact whose manifest names its parent, the data and the loss history."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snnc.backends.jax.simulator import readout
from snnc.compiler.finetune import check_trainable, finetune
from snnc.compiler.options import FinetuneOptions
from snnc.compiler.passes.check_limits import check_limits
from snnc.runtime.artifact import Artifact, load_artifact, save_artifact
from snnc.runtime.data import file_sha256, iter_x, load_labels
from snnc.runtime.manifest import EpochRecord, FinetuneRecord, SourceFile
from snnc.runtime.progress import progress
from snnc.runtime.results import FinetuneResult

EVAL_BATCH = 256


def _labelled(path: Path, net) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate(list(iter_x(path, net.sample_shape, 1024))), load_labels(path, classes=net.output.size)


def _batches(x: np.ndarray, labels: np.ndarray, batch: int, shuffle_seed: int | None):
    order = np.arange(len(x)) if shuffle_seed is None else np.random.default_rng(shuffle_seed).permutation(len(x))
    return [(x[order[i:i + batch]], labels[order[i:i + batch]]) for i in range(0, len(x), batch)]


def _accuracy(net, target, batches, steps: int) -> float:
    correct = total = 0
    for x, y in batches:
        out = readout(net, target, net.encode(x), (steps,))[steps].reshape(len(y), -1)
        correct += int((out.argmax(1) == y).sum())
        total += len(y)
    return correct / total


def finetune_artifact(artifact: Path, data: Path, output: Path, options: FinetuneOptions,
                      validation: Path | None) -> FinetuneResult:
    art = load_artifact(artifact)
    net, target = art.spiking, art.target
    check_trainable(net, target)
    held_out = _batches(*_labelled(validation, net), EVAL_BATCH, None) if validation is not None else None
    train, epoch_seeds = _labelled(data, net), iter(range(options.epochs))

    def batches():  # the training data, read once, shuffled anew every epoch
        return _batches(*train, options.batch, next(epoch_seeds))

    with progress("fine-tuning", options.epochs) as advance:
        def report(epoch, loss, accuracy):
            advance(1)

        trained, history, kept = finetune(
            net, target, batches, options,
            (lambda n: _accuracy(n, target, held_out, options.timesteps)) if held_out else None, report)
    trained, _ = check_limits(trained, target)  # the bounds the exact simulation relies on still hold
    record = FinetuneRecord(
        parent_sha256=file_sha256(artifact), data=SourceFile(file=data.name, sha256=file_sha256(data)),
        validation=SourceFile(file=validation.name, sha256=file_sha256(validation)) if validation else None,
        timesteps=options.timesteps, epochs=options.epochs, loss=options.loss, learning_rate=options.learning_rate,
        history=tuple(EpochRecord(**h) for h in history), kept_epoch=kept)
    manifest = art.manifest.model_copy(update={
        "finetune": record, "thresholds": {p.name: int(p.vth) for p in trained.populations},
        "notes": art.manifest.notes + (f"fine-tuned for T={options.timesteps}, {options.epochs} epoch(s), "
                                       f"{options.loss} loss; the network of epoch {kept}"
                                       + (" (best validation accuracy)" if held_out else ""),)})
    save_artifact(output, Artifact(manifest, trained, art.float_net))
    return FinetuneResult(output=output, history=record.history, kept_epoch=kept)
