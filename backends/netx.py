"""A compiled chain of LIF populations as a lava-dl netx network description (HDF5), laid out as
lava.lib.dl.netx.hdf5.Network reads it (and lava-dl's slayer blocks write it):

  layer/0   type "input", shape (C, H, W), no neuron: the host's spike trains enter layer 1
            (an input feeding a Dense layer directly is declared flat, (H * W * C,) in C order)
  layer/i   type "conv": shape (C, H, W), inChannels, outChannels, kernelSize, stride, padding,
            dilation (each (H, W)), groups, weight OIHW (cross-correlation, which netx flips for
            Lava's Conv), bias per channel;
            type "flatten": before a dense layer fed by a 3-D one (netx flattens in (C, H, W) order);
            type "dense": shape (N,), inFeatures, outFeatures, weight (out, in), bias;
            neuron: type "CUBA", iDecay du + 1, vDecay dv, vThMant vth, refDelay 1, gradedSpike 0
  simulation  Ts 1, tSample T
netx gives every LIF bias_exp 6, so a bias is stored as round(bias_mant << bias_exp / 64), and it
has no initial potential (neurons start at v 0): write_netx returns a note for each such loss."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from snnc.backends.channels_first import channel_bias, chw, chw_columns, oihw, symmetric_padding
from snnc.compiler.ir.spiking import LifPopulation, Projection, SpikingNet
from snnc.errors import SnncError

NETX_BIAS_EXP = 6


def write_netx(net: SpikingNet, path: Path, timesteps: int) -> list[str]:
    """Write `net` to `path` (HDF5); returns notes on what netx cannot hold exactly."""
    chain = _chain(net)
    with h5py.File(path, "w") as f:
        first = chain[0][0]
        _dataset(f, "layer/0/type", "input")
        f["layer/0/shape"] = np.array(chw(net.input.shape) if first.conv else (net.input.size,))
        index = 1
        for q, pop in chain:
            src_shape = net.population(q.src).shape
            if q.conv is None and len(src_shape) == 3 and q.src != net.input.name:
                _dataset(f, f"layer/{index}/type", "flatten")
                f[f"layer/{index}/shape"] = np.array([int(np.prod(src_shape))])
                index += 1
            _layer(f.create_group(f"layer/{index}"), q, pop, src_shape)
            index += 1
        f["simulation/Ts"] = 1
        f["simulation/tSample"] = int(timesteps)
    return _losses(net)


def _chain(net: SpikingNet) -> list[tuple[Projection, LifPopulation]]:
    if net.resets_by_subtraction:
        raise SnncError("netx describes Loihi's LIF with its reset to zero; this network resets by subtraction "
                        "(compile's default): compile it with --reset zero to export it")
    other = sorted({p.kind for p in net.populations[1:]} - {"lif"})
    if other:
        raise SnncError(f"netx export writes LIF networks; this one has {', '.join(other)} neurons")
    if net.input.kind != "spike-source":
        raise SnncError("netx export needs an input of spike trains (a spike source, as snnc compile makes)")
    chain = []
    for before, pop in zip(net.populations, net.populations[1:]):
        incoming = net.incoming(pop.name)
        if [q.src for q in incoming] != [before.name]:
            raise SnncError(f"netx describes a chain of layers, but population {pop.name!r} receives from "
                            f"{', '.join(q.src for q in incoming)} (skip connections, Add or concatenation)")
        if incoming[0].conv is None and len(pop.shape) != 1:
            raise SnncError(f"projection {before.name}->{pop.name}: a Dense into a {len(pop.shape)}-D population")
        if incoming[0].weight_exp != 0:
            raise SnncError(f"projection {before.name}->{pop.name}: netx export needs weight_exp 0, "
                            f"not {incoming[0].weight_exp}")
        chain.append((incoming[0], pop))
    return chain


def _layer(group: h5py.Group, q: Projection, pop: LifPopulation, src_shape: tuple[int, ...]) -> None:
    bias = netx_bias(pop)
    group["shape"] = np.array(chw(pop.shape))
    if q.conv is None:
        _dataset(group, "type", "dense")
        group["inFeatures"], group["outFeatures"] = q.weight.shape[1], q.weight.shape[0]
        group["weight"] = chw_columns(np.asarray(q.weight, np.int64), src_shape)
        group["bias"] = bias.reshape(-1)
    else:
        kernel, padding = symmetric_padding(np.asarray(q.weight, np.int64), q.conv.pads)
        _dataset(group, "type", "conv")
        group["inChannels"], group["outChannels"] = src_shape[-1], pop.shape[-1]
        group["kernelSize"] = np.array(kernel.shape[:2])
        group["stride"] = np.array(q.conv.strides)
        group["padding"] = np.array(padding)
        group["dilation"] = np.array([1, 1])
        group["groups"] = q.conv.groups
        group["weight"] = oihw(kernel)
        group["bias"] = channel_bias(bias, pop.shape, pop.name)
    _dataset(group, "neuron/type", "CUBA")
    group["neuron/iDecay"] = pop.du + 1
    group["neuron/vDecay"] = pop.dv
    group["neuron/vThMant"] = pop.vth
    group["neuron/refDelay"] = 1
    group["neuron/gradedSpike"] = False


def netx_bias(pop: LifPopulation) -> np.ndarray:
    """The population's bias as netx stores it: a mantissa for exponent 6 (int64, per neuron)."""
    return np.rint(pop.bias_v / 2 ** NETX_BIAS_EXP).astype(np.int64)


def _dataset(group: h5py.Group, key: str, text: str) -> None:
    """Strings as netx's NetDict decodes them: fixed-length ASCII, shape (1,)."""
    group.create_dataset(key, (1,), "S10", [text.encode("ascii")])


def _losses(net: SpikingNet) -> list[str]:
    notes = []
    started = [p.name for p in net.populations[1:] if p.v_init != 0]
    if started:
        notes.append(f"netx has no initial potential: {', '.join(started)} start at v 0 there "
                     "(snnc starts them at v_init, half the threshold by default)")
    error = max(float(np.abs((netx_bias(p) << NETX_BIAS_EXP) - p.bias_v).max()) for p in net.populations[1:])
    if error:
        notes.append(f"netx's bias exponent is 6: biases rounded to multiples of 64, by at most {error:g} "
                     "(v units) per step")
    return notes
