"""snnc's own Lava process: a trace probe. Kept alone in this package because Lava's model
discovery executes every .py file beside a process's module."""
