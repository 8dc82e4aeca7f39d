"""Loihi targets: bit widths, shifts and resource limits, as frozen data (docs/targets.md).

Sources: Lava 0.10 fixed_pt LIF and Dense process models (PyLifModelBitAcc, PyDenseModelBitAcc),
their docstrings (du/dv 12 bit, bias mantissa 13 bit signed, bias exponent 3 bit, vth 17 bit),
and Intel's published Loihi/Loihi 2 figures (128 neuron cores per chip; Loihi 2: up to 8192
neurons and 128 KB synapse memory per core; Loihi 1: 1024 compartments per core; Kapoho Point:
a board of 8 Loihi 2 chips).

A target is a chip and the number of chips on its board. Besides the built-in ones, a user may
describe a board in a JSON file: the fields of Target (extra fields refused, limits positive),
loaded by target_file().
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from snnc.errors import SnncError

MAX_WEIGHT_BITS = 8  # no target's weights are wider: the simulator's exact float kernels rely on it
MAX_CHIPS = 4096  # the most chips any target or --chips may name (Hala Point has 1152 Loihi 2 chips)
TARGET_FILE_BYTES = 1 << 20  # a target file is a few hundred bytes; refuse anything past 1 MiB

Positive = Annotated[int, Field(ge=1)]
Energy = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class EnergyModel(BaseModel):
    """Per-operation energies for estimates (not measurements), with their published source."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    synop_pj: Energy  # one synaptic operation: a spike (or graded message) reaching one synapse
    neuron_update_pj: Energy  # one active neuron update (one neuron, one timestep)
    spike_pj: Energy  # sending one spike within a tile
    source: str
    ann_mac_pj: Energy = 4.6  # one 32-bit float multiply-accumulate (3.7 pJ multiply + 0.9 pJ add)
    ann_source: str = "Horowitz, ISSCC 2014: 45 nm CMOS, 32-bit float multiply-add, arithmetic only"


LOIHI_ENERGY = EnergyModel(
    synop_pj=23.6, neuron_update_pj=52.0, spike_pj=1.7,
    source="Davies et al., Loihi, IEEE Micro 38(1), 2018, Table 2 (Loihi 1 silicon; Intel publishes no "
           "per-operation figures for Loihi 2, so the same are used for it)",
)


class Target(BaseModel):
    """One neuromorphic chip, as the numbers the compiler and both simulators obey, and the number
    of such chips on the board (`chips`) the network must fit.

    Arithmetic (identical in Lava's fixed_pt CPU models and on the chip for the parameters
    snnc emits):
      u <- decay(u, du) + (a_in << act_shift), wrapped once into (-2^(uv_bits-1), 2^(uv_bits-1)]
      v <- clip(decay(v, dv) + u + (bias_mant << bias_exp), -(2^(uv_bits-1)-1), 2^(uv_bits-1)-1)
      spike if v > (vth << vth_shift); then v <- 0 (hard reset)
      decay(x, d) = sign(x) * ((|x| * (2^decay_bits - d)) >> decay_bits)   (toward zero)
    """
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    description: str = Field(max_length=500)
    # Arithmetic (defaults: Loihi 2 as Lava's fixed_pt models implement it). The bounds keep the
    # int32 simulator exact; verify compares with Lava, whose models are Loihi 2's arithmetic.
    weight_bits: int = Field(8, ge=2, le=MAX_WEIGHT_BITS)  # signed synaptic weight mantissa (8 bit, sign mode chosen per projection)
    uv_bits: int = Field(24, ge=8, le=24)  # current u and voltage v registers
    act_shift: int = Field(6, ge=0, le=16)  # a_in << 6 into u
    vth_shift: int = Field(6, ge=0, le=16)  # vth << 6 compared to v
    vth_bits: int = Field(17, ge=1, le=24)  # unsigned threshold mantissa
    bias_mant_bits: int = Field(13, ge=2, le=16)  # signed bias mantissa
    bias_exp_max: int = Field(7, ge=0, le=7)  # unsigned 3-bit bias exponent
    decay_bits: int = Field(12, ge=1, le=12)  # du, dv in [0, 4095]
    weight_exp_min: int = Field(0, ge=-8, le=0)  # negative exponents round differently on chip and in Lava: not emitted
    weight_exp_max: int = Field(7, ge=0, le=8)
    sigma_delta: bool = True  # sigma-delta neurons with graded spikes (Loihi 2 only)
    graded_bits: int = Field(24, ge=8, le=24)  # sigma, act and graded spike payloads (Lava SigmaDelta precision 24)
    input_full: int = Field(4096, ge=1, le=1 << 16)  # the host's input rate code: rates m / input_full spikes per step
    sd_bias_bits: int = Field(16, ge=2, le=24)  # signed sigma-delta bias (Lava SigmaDelta bias precision 16)
    state_exp_max: int = Field(7, ge=0, le=7)  # sigma-delta state exponent (3 bits)
    energy: EnergyModel = LOIHI_ENERGY
    # Resources: what the placement (compiler/passes/place.py) fills.
    neurons_per_core: Positive = 8192
    synapse_bytes_per_core: Positive = 131072
    cores_per_chip: Positive = 128
    chips: int = Field(1, ge=1, le=MAX_CHIPS)  # chips on the board the network must fit (a single chip by default)
    synapse_bytes: Positive = 1  # memory per synapse in the core estimate: an 8-bit weight, no sharing
    max_fan_in: Positive = 4096

    @model_validator(mode="after")
    def _consistent(self) -> "Target":
        if self.act_shift >= self.uv_bits - 1:
            raise ValueError(f"act_shift {self.act_shift} must be below uv_bits - 1 = {self.uv_bits - 1}")
        return self

    @property
    def if_du(self) -> int:
        """The current decay du that makes LIF an integrate-and-fire neuron: u = a_in << act_shift
        each step (the largest du; the residual sign(u) (|u| >> decay_bits) is left)."""
        return 2 ** self.decay_bits - 1

    @property
    def vth_max(self) -> int:
        return 2 ** self.vth_bits - 1

    @property
    def uv_max(self) -> int:
        """Largest voltage magnitude: v saturates at +-(2^(uv_bits-1) - 1)."""
        return 2 ** (self.uv_bits - 1) - 1

    @property
    def u_wrap(self) -> int:
        """u wraps by 2^uv_bits once it leaves (-2^(uv_bits-1), 2^(uv_bits-1)]."""
        return 2 ** (self.uv_bits - 1)

    @property
    def bias_mant_range(self) -> tuple[int, int]:
        return -(2 ** (self.bias_mant_bits - 1)), 2 ** (self.bias_mant_bits - 1) - 1

    @property
    def max_input_current(self) -> int:
        """Largest |a_in| for which (a_in << act_shift) can never wrap u (with du = 4095)."""
        return self.max_current(self.if_du)

    def max_current(self, du: int) -> int:
        """Largest |a_in| per step for which u, decaying with du, provably never wraps: the decay
        keeps at most (2^decay_bits - du - 1) / 2^decay_bits of |u|, so |u| stays within
        |a_in| 2^(act_shift + decay_bits) / (du + 1), which must stay below 2^(uv_bits - 1)."""
        return ((du + 1) * self.u_wrap - 1) >> (self.act_shift + self.decay_bits)

    def leak_for(self, current: int) -> int:
        """The smallest du whose max_current is at least `current` (above if_du: none fits)."""
        return -(-((current << (self.act_shift + self.decay_bits)) + 1) // self.u_wrap) - 1


LOIHI2 = Target(
    name="loihi2",
    description="Intel Loihi 2 (Lava fixed_pt LIF/Dense/Conv models; 8192 neurons, 128 KB synapses per core)",
)

LOIHI1 = Target(
    name="loihi1",
    description="Intel Loihi (1st gen.; same LIF arithmetic, 1024 compartments per core)",
    neurons_per_core=1024,
    synapse_bytes_per_core=16384,
    sigma_delta=False,
)

KAPOHO_POINT = LOIHI2.model_copy(update=dict(
    name="kapoho-point",
    description="Intel Kapoho Point: a board of 8 Loihi 2 chips (8 x 128 cores, up to 8M neurons)",
    chips=8,
))

_TARGETS = {t.name: t for t in (LOIHI2, LOIHI1, KAPOHO_POINT)}
FAMILIES = {"loihi": "loihi2"}  # a family name means its newest chip


def known_targets() -> tuple[str, ...]:
    return (*_TARGETS, *FAMILIES)


def is_target_file(value: str) -> bool:
    """A --target value that names a JSON file rather than a built-in target."""
    return value.lower().endswith(".json")


def get_target(name: str) -> Target:
    """The target called `name`, or the newest chip of the family `name`."""
    try:
        return _TARGETS[FAMILIES.get(name, name)]
    except KeyError:
        raise SnncError(f"unknown target {name!r}; known targets: {', '.join(known_targets())}, "
                        "or a JSON target file (name.json, docs/targets.md)") from None


def target_file(path: str | Path) -> Target:
    """The Target a JSON file describes (the fields of Target, strictly typed; unknown fields and
    non-positive limits refused), or one SnncError line naming the file and every bad field."""
    path = Path(path)
    try:
        if not path.is_file():
            raise SnncError(f"target file {path}: " + ("no such file" if not path.exists() else "not a file"))
        with path.open("rb") as f:
            raw = f.read(TARGET_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:  # unreadable; a path with a NUL byte
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SnncError(f"target file {path}: cannot be read ({detail})") from None
    if len(raw) > TARGET_FILE_BYTES:
        raise SnncError(f"target file {path}: larger than {TARGET_FILE_BYTES} bytes, not a target description")
    try:
        target = Target.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        errors = exc.errors()
        if errors[0]["type"] == "json_invalid":
            raise SnncError(f"target file {path}: not a readable JSON file ({errors[0]['msg']})") from None
        problems = [f"{'.'.join(map(str, e['loc'])) or 'the file'}: {e['msg'].lower()}"
                    + (f", not {e['input']!r}" if e["type"] != "extra_forbidden" and e["loc"] else "")
                    for e in errors]
        raise SnncError(f"target file {path}: " + "; ".join(problems)) from None
    if target.name in known_targets():
        raise SnncError(f"target file {path}: name {target.name!r} is a built-in target; give the board its own name")
    return target


def resolve_target(value: str) -> Target:
    """A built-in target or family name, or the path of a JSON target file."""
    return target_file(value) if is_target_file(value) else get_target(value)
