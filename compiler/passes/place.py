"""Placement: every on-chip population onto cores, and the cores onto the target's chips.

  (SpikingNet, Target) -> (Placement, notes)

Each on-chip population gets cores of its own, holding contiguous ranges of its neurons (C-order
flat index): a core takes neurons while it has room for them (target.neurons_per_core) and for
their incoming synapses (target.synapse_bytes each within target.synapse_bytes_per_core; weights of
a convolution are not shared), so a population larger than a core is split over several
(compiler/resources.split). Cores are numbered in network order and fill the chips in that order,
target.cores_per_chip each: a population may straddle two chips. Host spike sources take no core.

The inter-chip traffic estimate is the number of synapses whose source and destination neurons sit
on different chips (every spike of such a source crosses the board's mesh to reach them), counted
exactly from the neuron ranges per chip with the analytic counts of compiler/resources.py; the mesh
carries fewer messages (one per spike and destination core), so it is an upper bound on those.
Synapses from host spike sources are not inter-chip: the host sends those spikes in any case.

check_limits proves the network fits before this pass runs; the placement does not reorder or
pack populations together (a greedy fill in network order), so it uses at most one core more per
population than a perfect packing would.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from snnc.compiler.ir.spiking import SpikingNet
from snnc.compiler.resources import core_usage, synapse_count, synapses_between
from snnc.targets import Target


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PopulationPlacement(_Frozen):
    population: str
    layer: str
    neurons: int = Field(ge=1)
    synapses: int = Field(ge=0)  # incoming synapses (nonzero weights), stored on its cores
    cores: int = Field(ge=1)
    first_core: int = Field(ge=0)  # its cores are first_core, first_core + 1, ... (numbered across the board)
    bounds: tuple[int, ...]  # core first_core + k holds neurons [bounds[k], bounds[k + 1])
    chips: tuple[int, ...]  # the chips its cores sit on
    inter_chip_synapses: int = Field(ge=0)  # of its incoming synapses, those from neurons on another chip

    @model_validator(mode="after")
    def _ranges(self) -> "PopulationPlacement":
        b = self.bounds
        if len(b) != self.cores + 1 or b[0] != 0 or b[-1] != self.neurons or any(x >= y for x, y in zip(b, b[1:])):
            raise ValueError(f"bounds must rise strictly from 0 to {self.neurons} in {self.cores} steps")
        return self

    def chip_range(self, chip: int, cores_per_chip: int) -> tuple[int, int]:
        """The neurons [lo, hi) this population has on `chip` (contiguous; empty if none)."""
        first = min(max(chip * cores_per_chip - self.first_core, 0), self.cores)
        last = min(max((chip + 1) * cores_per_chip - self.first_core, 0), self.cores)
        return self.bounds[first], self.bounds[last]


class Placement(_Frozen):
    """Where every on-chip population sits: recorded in the artifact's manifest, shown by inspect."""
    target: str
    chips_available: int = Field(ge=1)
    cores_per_chip: int = Field(ge=1)
    populations: tuple[PopulationPlacement, ...]  # on-chip populations, network order
    host: tuple[str, ...]  # populations the host runs (spike sources): no cores
    cores: int = Field(ge=0)
    chips: int = Field(ge=0)  # chips used
    inter_chip_synapses: int = Field(ge=0)  # exact: synapses whose source and destination are on different chips

    @model_validator(mode="after")
    def _totals(self) -> "Placement":
        if self.cores != sum(p.cores for p in self.populations) or self.chips != -(-self.cores // self.cores_per_chip) \
                or self.inter_chip_synapses != sum(p.inter_chip_synapses for p in self.populations):
            raise ValueError("totals differ from the populations' placements")
        return self


def _inter_chip(net: SpikingNet, placed: dict[str, PopulationPlacement], dst: str, cores_per_chip: int) -> int:
    """Synapses into `dst` from on-chip sources on another chip: all of them, less the same-chip ones."""
    crossing = 0
    for q in net.incoming(dst):
        if q.src not in placed:
            continue  # from the host
        src, to = placed[q.src], placed[dst]
        shapes = net.population(q.src).shape, net.population(dst).shape
        same = sum(synapses_between(q, *shapes, src.chip_range(chip, cores_per_chip),
                                    to.chip_range(chip, cores_per_chip))
                   for chip in set(src.chips) & set(to.chips))  # two populations share at most one chip
        crossing += synapse_count(q, *shapes) - same
    return crossing


def place(net: SpikingNet, target: Target) -> tuple[Placement, list[str]]:
    cpc = target.cores_per_chip
    placed: dict[str, PopulationPlacement] = {}
    core = 0
    for u in core_usage(net, target):
        chips = tuple(range(core // cpc, (core + u.cores - 1) // cpc + 1))
        placed[u.population] = PopulationPlacement(population=u.population, layer=u.layer, neurons=u.neurons,
                                                   synapses=u.synapses, cores=u.cores, first_core=core, bounds=u.bounds,
                                                   chips=chips, inter_chip_synapses=0)
        core += u.cores
    placed = {name: p.model_copy(update={"inter_chip_synapses": _inter_chip(net, placed, name, cpc)})
              for name, p in placed.items()}
    pops = tuple(placed.values())
    placement = Placement(target=target.name, chips_available=target.chips, cores_per_chip=cpc, populations=pops,
                          host=tuple(p.name for p in net.populations if not p.on_chip), cores=core,
                          chips=-(-core // cpc), inter_chip_synapses=sum(p.inter_chip_synapses for p in pops))
    split = [f"{p.population} {p.cores}" for p in pops if p.cores > 1]
    return placement, [f"placement on {target.name}: {placement.cores} cores on {placement.chips} of {target.chips} "
                       f"chip(s) ({cpc} cores each); {placement.inter_chip_synapses} synapses cross chips"
                       + (f"; split over cores: {', '.join(split)}" if split else "")]
