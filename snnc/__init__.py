"""snnc: hardware-deployment compiler for spiking neural networks."""
