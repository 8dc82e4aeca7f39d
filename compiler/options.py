"""Compile options, validated once (pydantic). The CLI builds its choices and defaults from here."""

from __future__ import annotations

import os
from typing import Literal, get_args

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from snnc.compiler.codings import CODINGS
from snnc.errors import SnncError
from snnc.targets import MAX_CHIPS, Target, is_target_file, resolve_target

CODING_ALIASES = {"lif": "rate"}  # snnc 0.1's --neuron lif
MAX_TIMESTEPS = 10_000  # steps per sample any command simulates


class _Options(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def checked(cls, **values):
        """Validated options, or an OptionError naming the first bad parameter."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise option_error(exc) from None


class CompileOptions(_Options):
    target: str | Target = Field(
        "loihi2", description="a target or family name (loihi: the newest chip), or a JSON target file (docs/targets.md)")
    coding: Literal[tuple(CODINGS)] = Field(
        "rate", validation_alias=AliasChoices("coding", "neuron"),
        description="rate (LIF neurons, Loihi 1 and 2), sigma-delta (graded spikes, Loihi 2), population "
                    "(a thermometer code over --population memoryless LIF neurons per value) or ttfs (time to first "
                    "spike: at most one spike per neuron, layer windows fitted into --timesteps-hint)")
    population: int = Field(8, ge=2, le=64, description="population coding: neurons per activation value")
    maxpool: Literal["relu", "avg", "refuse"] = Field(
        "relu", description="MaxPooling1D/2D: compile it exactly as a ReLU network of pairwise maxima, replace it by "
                            "average pooling (fewer neurons and layers, a different model), or refuse it")
    percentile: float | None = Field(
        None, gt=0, le=100, description="activation percentile that sets each layer's scale (default: searched for the "
                                        "least quantization error at the coding's levels; sigma-delta: 99.9)")
    max_rate: float = Field(1.0, gt=0, le=1, description="spikes per step that a layer's scale maps to")
    reset: Literal["subtract", "zero"] = Field(
        "subtract", description="rate coding: reset by subtraction (each neuron's projection onto itself; rates as "
                                "the ANN asks) or Loihi's own reset to zero (thresholds calibrated for its loss; the "
                                "networks netx and NIR export can describe)")
    timesteps_hint: int = Field(64, ge=1, le=MAX_TIMESTEPS, description="rate: the T biases (--reset zero: thresholds) are calibrated for; ttfs: the step the answer is read by")
    chips: int | None = Field(None, ge=1, le=MAX_CHIPS, description="chips on the board (default: the target's own count)")

    @field_validator("coding", mode="before")
    @classmethod
    def _old_coding_names(cls, value):
        return CODING_ALIASES.get(value, value)

    @field_validator("target", mode="before")
    @classmethod
    def _known_target(cls, value):
        """A chip's name (a family name resolves to its newest chip), or the Target a JSON file
        describes, held whole so that the artifact never needs the file again."""
        value = os.fspath(value) if isinstance(value, os.PathLike) else value
        if isinstance(value, str):
            target = resolve_target(value)
            return target if is_target_file(value) else target.name
        return value  # a Target, or its JSON object in a stored manifest (validated as a Target)

    @property
    def target_spec(self) -> Target:
        """The resolved target, with --chips applied."""
        spec = self.target if isinstance(self.target, Target) else resolve_target(self.target)
        return spec if self.chips is None else spec.model_copy(update={"chips": self.chips})


class FinetuneOptions(_Options):
    timesteps: int = Field(ge=1, le=MAX_TIMESTEPS, description="T the network is trained for")
    epochs: int = Field(1, ge=1, le=10_000)
    loss: Literal["ce", "tet"] = Field("ce", description="ce: cross-entropy of the readout at T; tet: the mean over "
                                                         "every step's readout (Deng et al. 2022)")
    learning_rate: float = Field(1.0, gt=0, lt=10, description="Adam's step, in integer units of the parameters")
    batch: int = Field(32, ge=1, le=4096)


class OptionError(SnncError):
    """A bad parameter value; `param` is the parameter's name (the CLI shows it as its flag)."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param, self.message = param, message


def option_error(exc: ValidationError) -> SnncError:
    first = exc.errors()[0]
    if isinstance(first.get("ctx", {}).get("error"), SnncError):
        return first["ctx"]["error"]
    param = ".".join(str(p) for p in first["loc"])
    return OptionError(param, f"{first['msg'].lower()}, not {first['input']!r}")


def choices(field: str) -> tuple[str, ...]:
    """The allowed values of a Literal option."""
    return get_args(CompileOptions.model_fields[field].annotation)
