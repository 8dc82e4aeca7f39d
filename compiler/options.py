"""Compile options, validated once (pydantic). The CLI builds its choices and defaults from here."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from snnc.compiler.codings import CODINGS
from snnc.errors import SnncError
from snnc.targets import Target, get_target

MAX_TIMESTEPS = 10_000  # steps per sample any command simulates


class CompileOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    target: str = Field("loihi2", description="a target or family name (loihi: the newest chip)")
    neuron: Literal[tuple(CODINGS)] = Field(
        "lif", description="rate-coded LIF neurons (Loihi 1 and 2) or graded sigma-delta neurons (Loihi 2)")
    maxpool: Literal["refuse", "avg"] = Field("refuse", description="MaxPooling2D: refuse it, or replace it by average pooling")
    percentile: float = Field(99.9, gt=0, le=100, description="activation percentile that sets each layer's scale")
    max_rate: float = Field(0.9, gt=0, le=1, description="spikes per step that a layer's scale maps to")
    timesteps_hint: int = Field(64, ge=1, le=MAX_TIMESTEPS, description="T the thresholds are calibrated for")

    @field_validator("target")
    @classmethod
    def _known_target(cls, name: str) -> str:
        return get_target(name).name  # a family name resolves to its newest chip

    @property
    def target_spec(self) -> Target:
        return get_target(self.target)

    @classmethod
    def checked(cls, **values) -> "CompileOptions":
        """Validated options, or an OptionError naming the first bad parameter."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise option_error(exc) from None


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
