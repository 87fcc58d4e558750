"""The Amaranth spiking core (issue 3): one module per hardware block, generated from the same
config and number formats (model/fixedpoint.py) as the model. Not built yet."""
