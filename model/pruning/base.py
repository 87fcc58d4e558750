"""Policy: what every pruning policy offers the network and the trainer, doing nothing by
default (the dense network's policy is this base under the name ``none``)."""
from __future__ import annotations

import numpy as np

from ..config import Config


class Policy:
    name = "none"

    def __init__(self, cfg: Config, arith):
        pass

    def after_learn(self, net, i: int, out, winners: np.ndarray, times_in: np.ndarray) -> int:
        """Called by Network.learn after layer i's STDP update (``net.learned[i]`` counts the
        image); returns the connections newly pruned."""
        return 0

    def after_training(self, net, ds) -> dict:
        """Called once when every layer has learned (report/train.py ``train_network``,
        which saves what it changes in the checkpoint); returns what the policy chose."""
        return {}

    def state(self) -> dict[str, np.ndarray]:
        """Arrays the training checkpoint saves (under ``policy.<key>``)."""
        return {}

    def load_state(self, st) -> None:
        pass
