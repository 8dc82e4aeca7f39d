"""The compile pipeline: plain tuples of passes, run in order, notes collected per pass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from snnc.compiler.ir.float_graph import FloatGraph
from snnc.compiler.ir.spiking import FloatNet, SpikingNet
from snnc.compiler.codings import Coding
from snnc.compiler.passes.balance_thresholds import Calibration, balance_thresholds
from snnc.compiler.passes.check_limits import check_limits, fan_in_violations, neuron_core_violations
from snnc.compiler.passes.drop_noops import drop_noops
from snnc.compiler.passes.equalize_channels import equalize_channels
from snnc.compiler.passes.fold_batchnorm import fold_batchnorm
from snnc.compiler.passes.lower_to_populations import lower_to_populations
from snnc.compiler.passes.place import Placement, place
from snnc.compiler.passes.maxpool_to_relu import keep_maxpool, maxpool_to_relu
from snnc.compiler.passes.replace_maxpool import maxpool_to_avg, refuse_maxpool
from snnc.compiler.passes.search_scales import search_scales
from snnc.compiler.passes.split_capped_relu import keep_capped_relu, split_capped_relu
from snnc.compiler.passes.split_fan_in import split_fan_in
from snnc.compiler.passes.split_signed_input import split_signed_input
from snnc.errors import SnncError
from snnc.targets import Target


@dataclass(frozen=True)
class CompiledNetwork:
    float_net: FloatNet
    spiking: SpikingNet
    scales: dict[str, float]
    notes: tuple[str, ...]
    placement: Placement | None = None  # cores and chips of every on-chip population (compiler/passes/place.py)


MAXPOOL_PASSES = {"relu": maxpool_to_relu, "avg": maxpool_to_avg, "refuse": refuse_maxpool, "native": keep_maxpool}


def graph_passes(maxpool: str = "relu", split_caps: bool = True) -> tuple:
    return (drop_noops, fold_batchnorm, split_capped_relu if split_caps else keep_capped_relu, MAXPOOL_PASSES[maxpool])


def compile_graph(graph: FloatGraph, target: Target, calibration: Calibration | None,
                  coding: Coding, maxpool: str = "relu") -> CompiledNetwork:
    """The graph passes, lowering, the coding's channel equalization, scales, its quantization (and its calibration, with
    data), then the target's limits."""
    notes: list[str] = []
    if coding.native_max and maxpool == "relu":
        maxpool = "native"
    for graph_pass in graph_passes(maxpool, split_caps=not coding.clips_at_scale):
        graph, new = graph_pass(graph, target)
        notes += new
    float_net, new = lower_to_populations(graph, target)
    notes += new
    float_net, new = split_signed_input(float_net, None if calibration is None else calibration.lowest)
    notes += new
    if coding.equalizes_channels:
        float_net, new = equalize_channels(float_net)
        notes += new
    float_net, new = split_fan_in(float_net, target, coding.copies)
    notes += new
    too_wide = fan_in_violations(float_net, target, coding.copies) + neuron_core_violations(float_net, target)
    if too_wide:  # before calibration and quantization, which would only refuse it later
        raise SnncError(f"the network does not fit {target.name}: " + "; ".join(too_wide))
    stats, new = balance_thresholds(float_net, target, calibration)
    if calibration is not None and calibration.percentile is None and coding.levels is not None:
        stats, new = search_scales(float_net, stats, coding.levels(float_net))
    scales = stats.scales
    notes += new
    spiking, new = coding.quantize(float_net, target, stats)
    notes += new
    if float_net.signed_input:  # the host splits each input by sign, as the float net does
        spiking = dataclasses.replace(spiking, encoding=dataclasses.replace(spiking.encoding, signed=True))
    if calibration is not None and coding.calibrate is not None:
        spiking, new = coding.calibrate(spiking, float_net, target, calibration, scales)
        notes += new
    spiking, new = check_limits(spiking, target)
    notes += new
    placement, new = place(spiking, target)
    notes += new
    return CompiledNetwork(float_net, spiking, scales, tuple(notes), placement)
