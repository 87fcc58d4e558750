"""The Amaranth spiking core: one module per hardware block, generated from the same config and
number formats (model/fixedpoint.py) and the same layouts (cycles/layout.py) as the model and
the cycle models. hw/README.md describes the architecture."""
