"""Loihi targets: bit widths, shifts and resource limits, as frozen data.

Sources: Lava 0.10 fixed_pt LIF and Dense process models (PyLifModelBitAcc, PyDenseModelBitAcc),
their docstrings (du/dv 12 bit, bias mantissa 13 bit signed, bias exponent 3 bit, vth 17 bit),
and Intel's published Loihi/Loihi 2 figures (128 neuron cores per chip; Loihi 2: up to 8192
neurons and 128 KB synapse memory per core; Loihi 1: 1024 compartments per core).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from snnc.errors import SnncError


class EnergyModel(BaseModel):
    """Per-operation energies for estimates (not measurements), with their published source."""
    model_config = ConfigDict(frozen=True, extra="forbid")
    synop_pj: float  # one synaptic operation: a spike (or graded message) reaching one synapse
    neuron_update_pj: float  # one active neuron update (one neuron, one timestep)
    spike_pj: float  # sending one spike within a tile
    source: str
    ann_mac_pj: float = 4.6  # one 32-bit float multiply-accumulate (3.7 pJ multiply + 0.9 pJ add)
    ann_source: str = "Horowitz, ISSCC 2014: 45 nm CMOS, 32-bit float multiply-add, arithmetic only"


LOIHI_ENERGY = EnergyModel(
    synop_pj=23.6, neuron_update_pj=52.0, spike_pj=1.7,
    source="Davies et al., Loihi, IEEE Micro 38(1), 2018, Table 2 (Loihi 1 silicon; Intel publishes no "
           "per-operation figures for Loihi 2, so the same are used for it)",
)


class Target(BaseModel):
    """One neuromorphic chip, as the numbers the compiler and both simulators obey.

    Arithmetic (identical in Lava's fixed_pt CPU models and on the chip for the parameters
    snnc emits):
      u <- decay(u, du) + (a_in << act_shift), wrapped once into (-2^(uv_bits-1), 2^(uv_bits-1)]
      v <- clip(decay(v, dv) + u + (bias_mant << bias_exp), -(2^(uv_bits-1)-1), 2^(uv_bits-1)-1)
      spike if v > (vth << vth_shift); then v <- 0 (hard reset)
      decay(x, d) = sign(x) * ((|x| * (2^decay_bits - d)) >> decay_bits)   (toward zero)
    """
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    weight_bits: int = 8  # signed synaptic weight mantissa (8 bit, sign mode chosen per projection)
    uv_bits: int = 24  # current u and voltage v registers
    act_shift: int = 6  # a_in << 6 into u
    vth_shift: int = 6  # vth << 6 compared to v
    vth_bits: int = 17  # unsigned threshold mantissa
    bias_mant_bits: int = 13  # signed bias mantissa
    bias_exp_max: int = 7  # unsigned 3-bit bias exponent
    decay_bits: int = 12  # du, dv in [0, 4095]
    weight_exp_min: int = 0  # negative exponents round differently on chip and in Lava: not emitted
    weight_exp_max: int = 7
    sigma_delta: bool = True  # sigma-delta neurons with graded spikes (Loihi 2 only)
    graded_bits: int = 24  # sigma, act and graded spike payloads (Lava SigmaDelta precision 24)
    input_full: int = 4096  # the host's input rate code: rates m / input_full spikes per step
    sd_bias_bits: int = 16  # signed sigma-delta bias (Lava SigmaDelta bias precision 16)
    state_exp_max: int = 7  # sigma-delta state exponent (3 bits)
    energy: EnergyModel = LOIHI_ENERGY
    neurons_per_core: int = 8192
    synapse_bytes_per_core: int = 131072
    cores_per_chip: int = 128
    chips: int = 1  # chips on the board the network must fit (a single-chip system by default)
    synapse_bytes: int = 1  # memory per synapse in the core estimate: an 8-bit weight, no sharing
    max_fan_in: int = 4096

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
        return 2 ** (self.uv_bits - 1 - self.act_shift) - 1


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

_TARGETS = {t.name: t for t in (LOIHI2, LOIHI1)}
FAMILIES = {"loihi": "loihi2"}  # a family name means its newest chip


def known_targets() -> tuple[str, ...]:
    return (*_TARGETS, *FAMILIES)


def get_target(name: str) -> Target:
    """The target called `name`, or the newest chip of the family `name`."""
    try:
        return _TARGETS[FAMILIES.get(name, name)]
    except KeyError:
        raise SnncError(f"unknown target {name!r}; known targets: {', '.join(known_targets())}") from None
