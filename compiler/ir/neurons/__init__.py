"""The registry of neuron kinds: adding one is a module in this folder plus one line in KINDS."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from snnc.compiler.ir.neurons.lif import LifPopulation
from snnc.compiler.ir.neurons.lif_reset import LifResetPopulation
from snnc.compiler.ir.neurons.sigma_delta import SigmaDeltaPopulation
from snnc.compiler.ir.neurons.spike_source import SpikeInput
from snnc.compiler.ir.neurons.host import Clock, Tonic
from snnc.compiler.ir.neurons.ttfs import TtfsPopulation, TtfsSource

KINDS = (SpikeInput, LifPopulation, SigmaDeltaPopulation, LifResetPopulation, TtfsSource, Clock, TtfsPopulation, Tonic)

# A population, as the artifact's JSON holds it: a union discriminated by the kind tag.
Population = Annotated[Union[KINDS], Field(discriminator="kind")]  # noqa: UP007 - a tuple of kinds
