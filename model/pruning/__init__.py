"""Pruning policies: which connections (or whole maps) a layer stops spending cycles on.

``pruning.policy`` in the config picks one (docs/design.md 2.1 and 2.3, papers under References); each is one module here with
its adaptation to a TTFS network trained layer by layer with STDP documented at its top:

* ``threshold`` (Nguyen et al. 2021): during learning, a connection whose weight falls below a threshold
  is pruned for good.
* ``lamp`` (DSTP, spatial): after training, LAMP scores ranked across layers, pruned in rounds
  with STDP retraining between them (a policy with ``next_round``: model/train.py runs it).
* ``temporal_window`` (DSTP and Chowdhury et al. 2021, temporal): the inference window, chosen after training
  from the readout's divergence on t steps, optionally shortened step by step during training.
* ``channel_activity`` (SCA, Li et al. 2024): every ``update_every`` images the learning layer's maps
  are ranked by spikes and potentials, the weakest disabled to a share of the maps, and disabled
  maps whose STDP drive beats the weakest enabled one's importance regrow in a swap.
* ``pca_channels`` (Chowdhury et al. 2021, structured): ``pca_rebuild`` sets each layer's number of maps from
  a PCA of its potentials and retrains it; nothing happens per image.

Every policy acts through the network's state, which the hardware holds too: the per-connection
mask ``Network.pruned`` (the core's mask memory), the per-map enables ``Network.channel_on``
(whole kernels skipped) and the inference window ``Network.window`` (the last time step
processed). A policy (``base.Policy``) gets a hook after every learning step and one after training,
and keeps whatever else it needs in ``state()``, which the training checkpoint saves.
"""
from __future__ import annotations

from ..config import Config
from .base import Policy
from .channel_activity import ChannelActivityPruning
from .lamp import LampPruning
from .temporal_window import TemporalWindowPruning
from .threshold import ThresholdPruning

NoPruning = Policy          # ``pruning.enabled: false``: the dense network


class PCAChannelsPolicy(Policy):
    """pca_channels chooses the layers' sizes between trainings (``pca_channels.pca_rebuild``,
    run by report/train.py; not imported here, it needs the trainer and scikit-learn):
    nothing happens per image."""
    name = "pca_channels"


POLICIES = {"threshold": ThresholdPruning, "lamp": LampPruning,
            "temporal_window": TemporalWindowPruning, "channel_activity": ChannelActivityPruning,
            "pca_channels": PCAChannelsPolicy}


def stdp_check(net, i: int, n: int) -> tuple[bool, int]:
    """The STDP unit's pruning check while layer i learns its image ``n`` (0-based): whether it
    checks the weights it writes, and the threshold in the layer's weight LSBs. Only the
    threshold rule prunes in the hardware's learning loop; the other policies' masks and enables
    are written by the host."""
    policy = net.pruning
    if isinstance(policy, ThresholdPruning):
        return policy.enabled and n + 1 > policy.warmups[i], net.prune_thresholds[i]
    return False, 0


def make_policy(cfg: Config, arith):
    """The configured policy, or NoPruning when pruning is disabled."""
    if not cfg.pruning.enabled:
        return NoPruning(cfg, arith)
    return POLICIES[cfg.pruning.policy](cfg, arith)
