"""TraceProbe: records a LIF population's spikes, u and v at every step into .npy memory maps.

Lava's Var.get() and Monitor read back ~13 us per element; this probe writes each step's arrays
straight into files the parent maps, so reading a whole run costs a file read.
"""

import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol


class TraceProbe(AbstractProcess):
    """s_in <- the population's s_out; u_ref, v_ref -> its u and v Vars. files: {"s"|"u"|"v": path}
    of .npy files shaped (total steps, *shape), written at row time_step - 1."""

    def __init__(self, *, shape: tuple, files: dict, name: str | None = None):
        super().__init__(shape=shape, files=files, name=name)
        self.s_in = InPort(shape=shape)
        self.u_ref = RefPort(shape=shape)
        self.v_ref = RefPort(shape=shape)


@implements(proc=TraceProbe, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyTraceProbeModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    u_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=24)
    v_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.maps = {k: np.load(path, mmap_mode="r+") for k, path in proc_params["files"].items()}

    def run_spk(self):
        self.maps["s"][self.time_step - 1] = self.s_in.recv()

    def post_guard(self):
        return True

    def run_post_mgmt(self):
        self.maps["u"][self.time_step - 1] = self.u_ref.read()
        self.maps["v"][self.time_step - 1] = self.v_ref.read()


class SpikeProbe(AbstractProcess):
    """Records only spikes (for sources such as a RingBuffer, which have no u or v)."""

    def __init__(self, *, shape: tuple, files: dict, name: str | None = None):
        super().__init__(shape=shape, files=files, name=name)
        self.s_in = InPort(shape=shape)


@implements(proc=SpikeProbe, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeProbeModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self.spikes = np.load(proc_params["files"]["s"], mmap_mode="r+")

    def run_spk(self):
        self.spikes[self.time_step - 1] = self.s_in.recv()
