"""Checks of the API's run-time arguments: each returns the value or raises an OptionError naming
the parameter (the CLI shows it as its flag)."""

from __future__ import annotations

from typing import Sequence

from snnc.compiler.options import MAX_TIMESTEPS, OptionError
from snnc.runtime.devices import available_devices, device_platforms


def count(name: str, value: int | None, high: int | None = None) -> int | None:
    """None, or an integer from 1 (to `high`)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1
                              or (high is not None and value > high)):
        raise OptionError(name, f"must be an integer from 1{f' to {high:,}' if high else ''}, not {value!r}")
    return value


def steps(value: int, name: str = "timesteps") -> int:
    return count(name, value, MAX_TIMESTEPS)


def timesteps(values: Sequence[int]) -> tuple[int, ...]:
    """Distinct T values, sorted; at least one."""
    values = tuple(values)
    if not values:
        raise OptionError("timesteps", "give at least one")
    return tuple(sorted({steps(t) for t in values}))


def one_of(name: str, value, allowed) -> str:
    if value not in allowed:
        raise OptionError(name, f"must be one of {', '.join(allowed)}, not {value!r}")
    return value


def devices(value: int | None) -> int | None:
    """None (JAX's default device), or a device count from 1 to the devices JAX sees."""
    if value is None:
        return None
    available = available_devices()
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= available:
        allowed = "1" if available == 1 else f"an integer from 1 to {available}"
        raise OptionError("devices", f"JAX sees {available} device{'s' * (available > 1)} ({device_platforms()}): "
                                     f"give {allowed}, not {value!r}")
    return value
