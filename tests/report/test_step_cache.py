"""The report's step cache: computed once per key, read back with the types JSON gives."""
import numpy as np

from report.pipeline import Cache


def test_step_computed_once_and_read_back(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"cycles": np.arange(3), "pair": (1, 2)}

    first = Cache(tmp_path / "cache").get("variant-dense", {"cfg": "abc", "k": 2}, compute)
    again = Cache(tmp_path / "cache")           # another process: the same folder
    second = again.get("variant-dense", {"k": 2, "cfg": "abc"}, compute)
    assert first == second == {"cycles": [0, 1, 2], "pair": [1, 2]}
    assert len(calls) == 1 and again.hits == ["variant-dense"]


def test_another_key_or_step_computes_again(tmp_path):
    cache, calls = Cache(tmp_path / "cache"), []
    compute = lambda: calls.append(1) or len(calls)
    assert cache.get("sweep-point", {"cfg": "a"}, compute) == 1
    assert cache.get("sweep-point", {"cfg": "b"}, compute) == 2
    assert cache.get("cosim", {"cfg": "a"}, compute) == 3
    assert cache.get("sweep-point", {"cfg": "a"}, compute) == 1
    assert cache.hits == ["sweep-point"]
