"""Independent work on Dask: ``Runner`` (cluster/runner.py) runs tasks in this process or on a
local or remote Dask cluster whose workers ``cluster/digest.py`` checks against this checkout.
Depends on nothing else of the project, so any command can use it."""
from cluster.digest import CodeMismatch, checkout_digest
from cluster.runner import Runner, add_arguments

__all__ = ["CodeMismatch", "Runner", "add_arguments", "checkout_digest"]
