"""The codings compile offers, one registry read by the options, the CLI and the API: a coding is the
pass that quantizes the FloatNet into its neuron kind and, with calibration data, the pass that
tunes the integer network afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from snnc.compiler.passes.calibrate_biases import calibrate_biases
from snnc.compiler.passes.calibrate_thresholds import calibrate_thresholds
from snnc.compiler.passes.quantize import RateCoding, quantize, rate_levels
from snnc.compiler.passes.quantize_population import PopulationCoding, quantize_population
from snnc.compiler.passes.quantize_sigma_delta import SigmaDeltaCoding, quantize_sigma_delta
from snnc.compiler.passes.quantize_ttfs import TtfsCoding, quantize_ttfs, ttfs_levels


@dataclass(frozen=True)
class Coding:
    quantize: Callable  # (float_net, target, Statistics) -> (SpikingNet, notes)
    calibrate: Callable | None  # (spiking, float_net, target, calibration, scales) -> (SpikingNet, notes)
    native_max: bool = False  # computes max pooling itself: the exact (default) --maxpool keeps MaxPool layers
    copies: int = 1  # neurons that carry one activation: each synapse of the float net becomes this many
    equalizes_channels: bool = False  # its weights share one scale per population: equalize channel ranges first
    levels: Callable | None = None  # (float_net) -> the levels an activation is carried in: scales are searched for them
    clips_at_scale: bool = False  # its neurons carry at most the scale: a capped ReLU stays one population (keep_capped_relu)


def _from_scales(quantize: Callable, **coding) -> Callable:
    """A quantization that reads the activation scales alone."""
    return lambda net, target, stats: quantize(net, target, stats.scales, **coding)


def _rate(options) -> Coding:
    rate = RateCoding(max_rate=options.max_rate, timesteps=options.timesteps_hint, reset=options.reset)
    calibrate = calibrate_thresholds if options.reset == "zero" else calibrate_biases
    return Coding(_from_scales(quantize, coding=rate), partial(calibrate, coding=rate, timesteps=options.timesteps_hint),
                  levels=partial(rate_levels, coding=rate), clips_at_scale=rate.clips_at_scale)


def _sigma_delta(options) -> Coding:
    return Coding(lambda net, target, stats: quantize_sigma_delta(net, target, stats.scales, SigmaDeltaCoding(),
                                                                  stats.sums, stats.means), None,
                  equalizes_channels=True)


def _population(options) -> Coding:
    return Coding(_from_scales(quantize_population, coding=PopulationCoding(levels=options.population)), None,
                  copies=options.population, levels=lambda net: options.population, clips_at_scale=True)


def _ttfs(options) -> Coding:
    ttfs = TtfsCoding(timesteps=options.timesteps_hint)
    return Coding(_from_scales(quantize_ttfs, coding=ttfs), None, native_max=True, levels=partial(ttfs_levels, coding=ttfs))


CODINGS = {"rate": _rate, "sigma-delta": _sigma_delta, "population": _population, "ttfs": _ttfs}
# The codings whose compile depends on --timesteps-hint (rate calibrates its biases for it and compensates
# residual paths at it, ttfs fits its windows into it): the sweep compiles them once per T.
TUNED_TO_TIMESTEPS = ("rate", "ttfs")


def coding_for(options) -> Coding:
    """The coding `options.coding` names, with its parameters from the options."""
    return CODINGS[options.coding](options)
