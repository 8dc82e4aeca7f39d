"""The SNN Toolbox-style baseline, simulated here in float: integrate-and-fire neurons with
threshold 1 and reset by subtraction, weights and biases normalised by the same activation
scales snnc uses (W lambda_src / lambda_dst, b / lambda_dst), the input injected as a constant
analog current, and every layer updated within the same timestep (no synaptic delay). The output
layer integrates without spiking; the class is the argmax of its accumulated potential.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from snnc.compiler.ir.spiking import FloatNet


def soft_reset_predictions(net: FloatNet, scales: dict[str, float], x: np.ndarray, steps: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Predicted classes (B,) at each T in steps."""
    shapes = {p.name: p.shape for p in net.populations}
    inp = net.populations[0]
    current = jnp.asarray(x, jnp.float32) / scales[inp.name]

    @jax.jit
    def run(current):
        def body(state, _):
            v, out = state
            s = {inp.name: current}
            new_v = {}
            for pop in net.populations[1:]:
                drive = sum(q.apply(s[q.src], shapes[q.src], pop.shape) * (scales[q.src] / scales[pop.name])
                            for q in net.incoming(pop.name)) + pop.bias / scales[pop.name]
                if pop.role == "output":
                    out = out + drive
                    continue
                potential = v[pop.name] + drive
                spikes = (potential >= 1.0).astype(jnp.float32)
                new_v[pop.name] = potential - spikes
                s[pop.name] = spikes
            return (new_v, out), out

        batch = current.shape[0]
        v0 = {p.name: jnp.zeros((batch, *p.shape), jnp.float32) for p in net.populations[1:-1]}
        out0 = jnp.zeros((batch, *net.populations[-1].shape), jnp.float32)
        return jax.lax.scan(body, (v0, out0), None, length=max(steps))[1]

    outputs = np.asarray(run(current))
    return {t: outputs[t - 1].reshape(len(x), -1).argmax(1) for t in steps}
