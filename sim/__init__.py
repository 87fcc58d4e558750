"""cocotb co-simulation of the core against the model's cycle predictions (issue 3). Not built yet."""
