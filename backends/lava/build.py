"""LavaGraph specs -> connected stock Lava processes (RingBuffer, LIF, SigmaDelta, Dense, Sparse, Conv).

Lava passes unknown keywords into proc_params and never complains, so every process is built
through checked(): each keyword must be a named parameter of the process or a proc_params key
that its fixed_pt model or the process classes read.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
from lava.proc.conv.models import PyConvModelFixed
from lava.proc.conv.process import Conv
from lava.proc.dense.models import PyDenseModelBitAcc
from lava.proc.dense.process import Dense
from lava.proc.io.source import PySendModelFixed, RingBuffer
from lava.proc.lif.models import PyLifModelBitAcc, PyLifResetModelBitAcc
from lava.proc.lif.process import LIF, LIFReset
from lava.proc.sdn.models import PySigmaDeltaModelFixed
from lava.proc.sdn.process import ActivationMode, SigmaDelta
from lava.proc.sparse.models import PySparseModelBitAcc
from lava.proc.sparse.process import Sparse

from snnc.backends.lava.specs import ConvSpec, LavaGraph, NeuronSpec, lava_shape

MODELS = {LIF: PyLifModelBitAcc, LIFReset: PyLifResetModelBitAcc, SigmaDelta: PySigmaDeltaModelFixed, RingBuffer: PySendModelFixed,
          Dense: PyDenseModelBitAcc, Sparse: PySparseModelBitAcc, Conv: PyConvModelFixed}
PROCESSES = {cls.__name__: cls for cls in MODELS}
ENUM_KEYWORDS = {"act_mode": ActivationMode}  # keywords whose values travel as the enum member's name


@cache
def keywords_lava_reads(process_cls) -> frozenset[str]:
    named = set(inspect.signature(process_cls.__init__).parameters) - {"self", "kwargs"}
    classes = (*MODELS[process_cls].__mro__, *process_cls.__mro__)
    source = "".join(inspect.getsource(c) for c in classes if c.__module__.startswith("lava."))
    read = set(re.findall(r"proc_params(?:\.get\(|\[)\s*[\"'](\w+)[\"']", source))
    return frozenset(named | read)


def checked(process_cls, keywords: dict):
    ignored = sorted(set(keywords) - keywords_lava_reads(process_cls))
    if ignored:
        raise TypeError(f"Lava's {process_cls.__name__} would silently ignore {', '.join(ignored)}")
    return process_cls(**keywords)


def flat_view(port, ir_shape: tuple[int, ...]):
    """A population's port seen as the C-order flattening of its IR shape."""
    if len(ir_shape) == 3:
        return port.transpose([1, 0, 2]).flatten()
    return port.flatten() if len(ir_shape) > 1 else port


def shaped_view(port, ir_shape: tuple[int, ...]):
    """A flat port seen in a population's Lava layout."""
    if len(ir_shape) == 3:
        return port.reshape(ir_shape).transpose([1, 0, 2])
    return port.reshape(ir_shape) if len(ir_shape) > 1 else port


@dataclass
class Built:
    neurons: dict  # population name -> LIF or SigmaDelta
    synapses: list  # Dense / Sparse / Conv processes, in graph.connections order


def neuron_process(spec: NeuronSpec):
    keywords = {k: ENUM_KEYWORDS[k][v.upper()] if k in ENUM_KEYWORDS else v for k, v in spec.keywords.items()}
    return checked(PROCESSES[spec.process], keywords)


def build(graph: LavaGraph) -> Built:
    neurons = {p.name: neuron_process(p) for p in graph.populations}
    synapses = []
    for c in graph.connections:
        src, dst = neurons[c.src], neurons[c.dst]
        if isinstance(c, ConvSpec):
            proc = checked(Conv, c.keywords())
            src.s_out.connect(proc.s_in)
            proc.a_out.connect(dst.a_in)
        else:
            proc = checked(Dense if c.kind == "dense" else Sparse, c.keywords())
            flat_view(src.s_out, c.src_shape).connect(proc.s_in)
            shaped_view(proc.a_out, c.dst_shape).connect(dst.a_in)
        synapses.append(proc)
    return Built(neurons, synapses)


def reset(built: Built, graph: LavaGraph, sample: int) -> None:
    """Back to the state at t = 0, with sample `sample`'s input (>= 1; Vars set between runs)."""
    for spec in graph.populations:
        neurons = built.neurons[spec.name]
        for var, value in spec.reset.items():
            getattr(neurons, var).set(np.full(lava_shape(spec.ir_shape), value, np.int32))
        for var, value in (spec.later_samples[sample - 1] if spec.later_samples else {}).items():
            getattr(neurons, var).set(value)
    for proc in built.synapses:
        buffer = proc.a_buf if isinstance(proc, Conv) else proc.a_buff
        buffer.set(np.zeros(buffer.shape, np.int32))
