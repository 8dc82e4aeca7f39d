"""What every neuron kind is: a frozen dataclass (a JAX pytree) that declares its parameters, its
explicit state, its integer step, its limits and its Lava process, like a Lava Process and its
ProcessModel in one place. The simulator, the Lava builder, the checks, the counts and the artifact
call these methods and never ask which kind a population is.

A kind module defines:
  kind       the serialization tag (a Literal dataclass field, last, with its default)
  State      a NamedTuple of int32 (B, *shape) arrays, one field `s`: the spikes (bool) or the
             graded payloads (int32) it sends
  init_state(batch)                    the state at t = 0
  step(state, a_in, drive, target)     one timestep; drive is the per-sample input of the input
                                       population (else None: the population's own bias)
  probe(state) -> (u, v)               the values verify compares (None: not a chip state)
  reading(state)                       what the output is read from at each step (default: v)
  readout(v_out, counts, target)       the output population's reading, int64
  violations(target, where)            every limit of the target the population breaks
  lava(drives, steps, target)          the Lava process spec (backends/lava/specs.NeuronSpec)
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import ClassVar

import jax
import numpy as np

from snnc.backends.lava.specs import to_lava


def static(**kwargs):
    """A dataclass field that is part of the jit cache key (structure), not a traced value."""
    return field(metadata=dict(static=True), **kwargs)


def neuron_kind(cls):
    """Decorate a neuron kind: a frozen dataclass, registered as a pytree (data fields are traced,
    static fields key the compilation)."""
    return jax.tree_util.register_dataclass(dataclasses.dataclass(frozen=True, eq=False)(cls))


class Neurons:
    """Shared by every population kind."""
    shape: tuple[int, ...]
    on_chip: ClassVar[bool] = True  # a chip population (a host spike source is not)
    graded: ClassVar[bool] = False  # sends int32 payloads rather than binary spikes
    bounded_current: ClassVar[bool] = False  # its a_in must stay within current_limit(target)
    current_note: ClassVar[str] = ""  # without that bound: what keeps its currents in range
    summary: ClassVar[str] = ""  # one line for inspect: the model and its firing rule
    input_role: ClassVar[str] = "bias (input)"  # what the input population is, for layer tables

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def exponent(self) -> int:
        """The shift the population's bias mantissa gets."""
        return 0

    def lava_biases(self, drives: np.ndarray | None) -> list[np.ndarray]:
        """Per sample, the bias mantissas in Lava's layout: the population's own (once), or each
        sample's drive (the input population)."""
        mants = [np.broadcast_to(self.bias_mant, self.shape)] if drives is None else list(drives)
        return [to_lava(np.asarray(m, np.int32), len(self.shape)) for m in mants]

    def current_limit(self, target) -> int:
        """The largest |a_in| per step its u holds without wrapping (where bounded_current)."""
        return target.max_input_current

    def reading(self, state):
        """The value the output population is read from at each step (readout's v_out): its probed v."""
        return self.probe(state)[1]

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
