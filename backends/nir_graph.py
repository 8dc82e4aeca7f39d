"""A compiled rate-coded SpikingNet as a NIR graph (the neuromorphic intermediate representation,
`nir` package), in units of Loihi's membrane potential v, channels first:

  input population        -> Input (C, H, W): the host's spike trains arrive here
  projection src -> dst   -> Affine "src->dst" (weight W << weight_exp << 6; after a Flatten
                             where src is 3-D, columns in (C, H, W) order) or Conv2d "src->dst"
                             (OIHW kernel of the same integers, symmetric padding, one group;
                             square kernels only, as nir 1.0 types them)
  hidden population       -> IF: r 1, v_threshold vth << 6, v_reset 0 (Loihi's hard reset)
  output population       -> I (an integrator, r 1): its state is the readout spikes x V + v,
                             since the output never spikes; then the Output node "readout"
  bias_mant << bias_exp   -> the bias of the population's first incoming projection
Several projections into one population are several edges into its node, which NIR sums. Every
neuron node's metadata holds v_init, the potential it starts from (NIR has no such field).

What NIR cannot say, listed in the graph's metadata too: Loihi delays every projection by one
step, where NIR's edges are instantaneous; at du = 4095 Loihi's current keeps sign(u) (|u| >> 12)
into the next step, which IF has no state for; v saturates at +-(2^23 - 1)."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from snnc.backends.channels_first import channel_bias, chw, chw_columns, oihw, symmetric_padding
from snnc.compiler.ir.spiking import LifPopulation, Projection, SpikingNet
from snnc.errors import SnncError
from snnc.targets import LOIHI2, Target

READOUT = "readout"
LOIHI_DIFFERENCES = (
    "every projection delays spikes by one step (NIR edges are instantaneous); "
    "the current u of Loihi's neurons keeps sign(u) * (|u| >> 12) into the next step (du 4095), which IF drops; "
    "v saturates at +-(2^23 - 1)")


def write_nir(net: SpikingNet, path: Path, target: Target = LOIHI2) -> list[str]:
    """Write `net` to `path` (HDF5); returns a note on what NIR cannot hold."""
    nir.write(path, nir_graph(net, target))
    return ["NIR edges are instantaneous and IF neurons have no current: a NIR simulator runs this network "
            "without Loihi's one-step delay per projection and without the current's residual (docs/export.md)"]


def nir_graph(net: SpikingNet, target: Target = LOIHI2) -> nir.NIRGraph:
    _check_exportable(net, target)
    shapes = {p.name: p.shape for p in net.populations}
    nodes = {net.input.name: nir.Input(input_type={"input": np.array(chw(net.input.shape))})}
    edges = []
    for pop in net.populations[1:]:
        nodes[pop.name] = _neuron(pop, target)
        for i, q in enumerate(net.incoming(pop.name)):
            name, source = f"{q.src}->{q.dst}", q.src
            if q.conv is None and len(shapes[q.src]) == 3:
                source = f"{name}.flatten"
                nodes[source] = nir.Flatten(input_type={"input": np.array(chw(shapes[q.src]))}, start_dim=0)
                edges.append((q.src, source))
            bias = pop.bias_v if i == 0 else np.zeros(pop.shape, np.int64)
            nodes[name] = _synapses(q, shapes[q.src], bias, pop.name, target)
            edges += [(source, name), (name, pop.name)]
    nodes[READOUT] = nir.Output(output_type={"output": np.array(chw(net.output.shape))})
    edges.append((net.output.name, READOUT))
    metadata = {"generator": "snnc", "dt": 1.0, "input": "rate-coded spike trains (snnc SpikeInput)",
                "input_gain": float(net.encoding.gain), "input_full": int(net.input.full),
                "input_signed": bool(net.encoding.signed), "loihi_differences": LOIHI_DIFFERENCES}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def _check_exportable(net: SpikingNet, target: Target) -> None:
    if net.resets_by_subtraction:
        raise SnncError("NIR describes Loihi's LIF with its reset to zero; this network resets by subtraction "
                        "(compile's default): compile it with --reset zero to export it")
    other = sorted({p.kind for p in net.populations[1:]} - {"lif"})
    if other:
        raise SnncError(f"NIR has no {' or '.join(other)} neuron: export a network compiled with the rate coding")
    if net.input.kind != "spike-source":
        raise SnncError("NIR export needs an input of spike trains (a spike source, as snnc compile makes)")
    for pop in net.populations[1:]:
        if (pop.du, pop.dv) != (target.if_du, 0):
            raise SnncError(f"population {pop.name!r}: NIR export writes integrate-and-fire neurons "
                            f"(du {target.if_du}, dv 0), not du {pop.du}, dv {pop.dv}")


def _neuron(pop: LifPopulation, target: Target) -> nir.NIRNode:
    shape = chw(pop.shape)
    metadata = {"v_init": float(pop.v_init)}
    if pop.role == "output":
        return nir.I(r=np.ones(shape, np.float32), metadata=metadata)
    return nir.IF(r=np.ones(shape, np.float32), v_threshold=np.full(shape, pop.vth << target.vth_shift, np.float32),
                  v_reset=np.zeros(shape, np.float32), metadata=metadata)


def _ungrouped(kernel_hwio: np.ndarray, groups: int) -> np.ndarray:
    """A grouped kernel (kh, kw, C / groups, O) as the same synapses in one group (kh, kw, C, O),
    zero between groups: nir 1.0's Conv2d takes its input channels from the kernel, C / groups."""
    kh, kw, per_group, out = kernel_hwio.shape
    full = np.zeros((kh, kw, per_group * groups, out), kernel_hwio.dtype)
    step = out // groups
    for g in range(groups):
        full[:, :, g * per_group:(g + 1) * per_group, g * step:(g + 1) * step] = kernel_hwio[..., g * step:(g + 1) * step]
    return full


def _synapses(q: Projection, src_shape: tuple[int, ...], bias: np.ndarray, population: str, target: Target) -> nir.NIRNode:
    scale = 2.0 ** (q.weight_exp + target.act_shift)
    weight = np.asarray(q.weight, np.float64)
    if q.conv is None:
        if len(bias.shape) != 1:
            raise SnncError(f"projection {q.src}->{q.dst}: a Dense into a {len(bias.shape)}-D population")
        return nir.Affine(weight=(chw_columns(weight, src_shape) * scale).astype(np.float32),
                          bias=bias.astype(np.float32))
    kernel, padding = symmetric_padding(_ungrouped(weight, q.conv.groups), q.conv.pads)
    if kernel.shape[0] != kernel.shape[1]:
        raise SnncError(f"projection {q.src}->{q.dst}: a {kernel.shape[0]}x{kernel.shape[1]} kernel (padding made "
                        "symmetric); nir 1.0 sizes a Conv2d's output by the kernel's height alone, so only square "
                        "kernels can be written")
    return nir.Conv2d(input_shape=src_shape[:2], weight=(oihw(kernel) * scale).astype(np.float32),
                      stride=tuple(q.conv.strides), padding=padding, dilation=(1, 1), groups=1,
                      bias=channel_bias(bias, bias.shape, population).astype(np.float32))
