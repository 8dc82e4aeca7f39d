"""`snnc report`: PNG plots of one artifact on a data set and an index.md that embeds them with
the tables: accuracy vs timesteps beside the ANN, spikes and synaptic operations per layer, a
spike raster of one sample, and weight histograms before and after quantization with each
projection's quantization error."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def weight_pairs(float_net, net) -> list:
    """Each float projection with the integer projection that carries it: the same source and
    destination, else (a TTFS relay in between) the same destination and weight shape. Codings add
    projections of their own (a TTFS clock, self-inhibition, relays), which have no float twin."""
    unused = list(net.projections)
    pairs = []
    for fq in float_net.projections:
        q = next((q for q in unused if (q.src, q.dst) == (fq.src, fq.dst)), None) or next(
            (q for q in unused if q.dst == fq.dst != q.src and q.weight.shape == fq.weight.shape), None)
        if q is not None:
            unused.remove(q)
            pairs.append((fq, q))
    return pairs


def quantization_error(float_weight: np.ndarray, int_weight: np.ndarray) -> float:
    """Relative RMS error of the integer weights after the best single scale: ||W_i / s - W_f|| / ||W_f||."""
    f, i = float_weight.astype(np.float64).ravel(), int_weight.astype(np.float64).ravel()
    if not f.any() or not i.any():
        return 0.0
    scale = (i @ f) / (f @ f)
    return float(np.linalg.norm(i / scale - f) / np.linalg.norm(f))


def write_report(out: Path, name: str, evaluation, float_net, net, raster: dict[str, np.ndarray]) -> Path:
    """evaluation: an EvaluateResult; raster: spikes (T, *shape) per population of one sample."""
    out.mkdir(parents=True, exist_ok=True)
    steps = [r.timesteps for r in evaluation.results]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, [100 * r.accuracy for r in evaluation.results], marker="o", label="integer SNN")
    ax.axhline(100 * evaluation.ann_accuracy, color="black", linestyle=":", label="ANN")
    ax.set(xscale="log", xlabel="timesteps T", ylabel="accuracy (%)", title=f"{name}: accuracy vs timesteps")
    ax.legend()
    _save(fig, out / "accuracy.png")

    layers = evaluation.layers
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    names = [layer.population for layer in layers]
    axes[0].bar(names, [layer.spikes_mean for layer in layers])
    axes[0].set(title=f"spikes per sample (T={steps[-1]})", ylabel="spikes")
    axes[1].bar(names, [layer.synops_in for layer in layers], label="SNN synaptic ops (into the layer)")
    axes[1].bar(names, [layer.ann_macs for layer in layers], alpha=0.5, label="ANN MACs (into the layer)")
    axes[1].set(title="synaptic operations per sample", yscale="log")
    axes[1].legend()
    for a in axes:
        a.tick_params(axis="x", rotation=45)
    _save(fig, out / "spikes_synops.png")

    fig, ax = plt.subplots(figsize=(10, 5))
    offset = 0
    for pop_name, spikes in raster.items():
        flat = spikes.reshape(len(spikes), -1)
        t, neuron = np.nonzero(flat)
        ax.scatter(t + 1, neuron + offset, s=2, label=pop_name)
        offset += flat.shape[1]
    ax.set(xlabel="timestep", ylabel="neuron (populations stacked)", title="spike raster, first sample")
    ax.legend(markerscale=5, fontsize=8)
    _save(fig, out / "raster.png")

    rows = []
    pairs = weight_pairs(float_net, net)
    fig, axes = plt.subplots(len(pairs), 2, figsize=(9, 2.2 * len(pairs)), squeeze=False)
    for (left, right), (fq, q) in zip(axes, pairs):
        error = quantization_error(fq.weight, q.weight) if fq.weight.shape == q.weight.shape else None
        shown = "expanded (population copies)" if error is None else f"{100 * error:.2f} %"
        rows.append(f"| {q.src} -> {q.dst} | {q.kind} | {q.weight.size} | {int(q.weight.min())}..{int(q.weight.max())} "
                    f"| {shown} |")
        left.hist(np.ravel(fq.weight), bins=60)
        left.set_title(f"{q.src} -> {q.dst}: float", fontsize=9)
        right.hist(np.ravel(q.weight), bins=60)
        right.set_title(f"integer (8-bit), error {shown}", fontsize=9)
    _save(fig, out / "weights.png")

    acc = "\n".join(f"| {r.timesteps} | {100 * r.accuracy:.2f} |" for r in evaluation.results)
    counts = "\n".join(f"| {layer.population} | {layer.neurons} | {layer.spikes_mean:.1f} | {layer.spikes_max} "
                       f"| {layer.synops_in:,.0f} | {layer.ann_macs:,} |" for layer in layers)
    e, lat = evaluation.energy, evaluation.latency
    index = out / "index.md"
    index.write_text(f"""# {name}

{evaluation.samples} samples; ANN accuracy {100 * evaluation.ann_accuracy:.2f} %.

| T | SNN accuracy % |
|---|---|
{acc}

Latency: within T={lat.timesteps} the answer is final from step {lat.mean_steps:.1f} on average, {lat.p90_steps:.0f}
for 90 % of the samples, {lat.max_steps} at most (depth {lat.depth}: no coding answers before step {lat.depth + 1}).

![accuracy](accuracy.png)

## Spikes and synaptic operations per sample (T={steps[-1]})

| population | neurons | spikes | max per neuron | synaptic ops in | ANN MACs in |
|---|---|---|---|---|---|
{counts}

Energy estimate per inference on {e.target}: {e.snn_uj:.3g} uJ (ANN {e.ann_uj:.3g} uJ).
Figures: {e.synop_pj} pJ per synaptic op, {e.neuron_update_pj} pJ per neuron update, {e.spike_pj} pJ per
spike ({e.source}); ANN {e.ann_mac_pj} pJ per MAC ({e.ann_source}). Estimates, not measurements.

![spikes and synaptic operations](spikes_synops.png)

![raster](raster.png)

## Weights before and after quantization

| projection | kind | weights | integer range | quantization error |
|---|---|---|---|---|
{chr(10).join(rows)}

Quantization error: relative RMS difference between the float weights and the integer weights
after the best single scale.

![weights](weights.png)
""")
    return index


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
