"""verify: the JAX reference and Lava on the same samples, every u, v and spike compared exactly."""

from __future__ import annotations

import time
from pathlib import Path

from snnc.backends.jax.simulator import trace
from snnc.backends.lava.runner import lava_trace
from snnc.errors import SnncError
from snnc.runtime.artifact import load_artifact
from snnc.runtime.compare import compare
from snnc.runtime.data import file_sha256
from snnc.runtime.evaluation import first_samples
from snnc.runtime.results import VerifyResult
from snnc.runtime.trace import save_trace

TRACE_BYTES_MAX = 4 << 30  # both traces are held in memory: refuse runs that would need more


def verify_artifact(artifact: Path, data: Path, samples: int, timesteps: int, backend: str, trace_dir: Path | None,
                    timeout: float) -> VerifyResult:
    art = load_artifact(artifact)
    net, target = art.spiking, art.target
    needed = 2 * 3 * 4 * samples * timesteps * sum(p.size for p in net.populations)  # u, v, s int32, both sides
    if needed > TRACE_BYTES_MAX:
        raise SnncError(f"{samples} samples x {timesteps} steps need about {needed / 2**30:.1f} GiB of traces; verify fewer")
    drive = net.encode(first_samples(data, net.sample_shape, samples))
    start = time.perf_counter()
    other = lava_trace(net, drive, timesteps, backend, timeout, target)
    lava_seconds = time.perf_counter() - start
    start = time.perf_counter()
    reference = trace(net, target, drive, timesteps)
    jax_seconds = time.perf_counter() - start
    sha = file_sha256(artifact)
    if trace_dir is not None:
        trace_dir.mkdir(parents=True, exist_ok=True)
        save_trace(trace_dir / "jax.npz", reference, artifact_sha256=sha)
        save_trace(trace_dir / f"{backend}.npz", other, artifact_sha256=sha)
    return VerifyResult(comparison=compare(reference, other, voltage_on_spike=backend != "loihi2-hw"),
                        samples=len(drive), timesteps=timesteps, backend=backend, artifact_sha256=sha,
                        seconds={"jax": round(jax_seconds, 3), "lava": round(lava_seconds, 3)})
