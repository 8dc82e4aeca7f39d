"""The compile pipeline: plain tuples of passes, run in order, notes collected per pass."""

from __future__ import annotations

from dataclasses import dataclass

from snnc.compiler.ir.float_graph import FloatGraph
from snnc.compiler.ir.spiking import FloatNet, SpikingNet
from snnc.compiler.passes.balance_thresholds import Calibration, balance_thresholds
from snnc.compiler.passes.calibrate_thresholds import calibrate_thresholds
from snnc.compiler.passes.check_limits import check_limits
from snnc.compiler.passes.drop_noops import drop_noops
from snnc.compiler.passes.fold_batchnorm import fold_batchnorm
from snnc.compiler.passes.lower_to_populations import lower_to_populations
from snnc.compiler.passes.quantize import RateCoding, quantize
from snnc.compiler.passes.quantize_sigma_delta import SigmaDeltaCoding, quantize_sigma_delta
from snnc.compiler.passes.replace_maxpool import maxpool_to_avg, refuse_maxpool
from snnc.targets import Target


@dataclass(frozen=True)
class CompiledNetwork:
    float_net: FloatNet
    spiking: SpikingNet
    scales: dict[str, float]
    notes: tuple[str, ...]


def graph_passes(maxpool: str) -> tuple:
    return (drop_noops, fold_batchnorm, maxpool_to_avg if maxpool == "avg" else refuse_maxpool)


def compile_graph(graph: FloatGraph, target: Target, calibration: Calibration | None,
                  coding: RateCoding | SigmaDeltaCoding, maxpool: str = "refuse") -> CompiledNetwork:
    """Rate coding on LIF neurons (RateCoding) or graded sigma-delta neurons (SigmaDeltaCoding)."""
    notes: list[str] = []
    for graph_pass in graph_passes(maxpool):
        graph, new = graph_pass(graph, target)
        notes += new
    float_net, new = lower_to_populations(graph, target)
    notes += new
    scales, new = balance_thresholds(float_net, target, calibration)
    notes += new
    if isinstance(coding, SigmaDeltaCoding):
        spiking, new = quantize_sigma_delta(float_net, target, scales, coding)
    else:
        spiking, new = quantize(float_net, target, scales, coding)
    notes += new
    if calibration is not None and isinstance(coding, RateCoding):
        spiking, new = calibrate_thresholds(spiking, float_net, target, calibration, scales, coding, coding.timesteps)
        notes += new
    spiking, new = check_limits(spiking, target)
    notes += new
    return CompiledNetwork(float_net, spiking, scales, tuple(notes))
