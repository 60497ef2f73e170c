"""The run store: a run found in it is the run that training again would give, to the last bit; nothing else is."""

from __future__ import annotations

import numpy as np
import pytest

import flatgap  # noqa: F401  (quiet TensorFlow first)
from flatgap.data import make_canvases
from flatgap.experiments.pool import run_all, shutdown
from flatgap.experiments.store import RunStore, run_key, store_from_environment


def _tasks():
    data = make_canvases(60, 12, kind="shape", seed=7)
    train, validation = (data.images[:40], data.labels[:40]), (data.images[40:], data.labels[40:])
    config = {"head": "gap", "input_shape": (12, 12, 1), "num_classes": 4, "filters": (4,)}
    return [{"config": config, "train": train, "validation": validation, "seed": seed, "learning_rate": 1e-2,
             "max_epochs": 3, "patience": 1, "batch_size": 16, "min_epoch_steps": 0} for seed in (0, 1)]


def _same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for name in a:
        if name == "weights":
            for x, y in zip(a[name], b[name], strict=True):
                np.testing.assert_array_equal(x, y)
        elif name != "seconds":
            assert a[name] == b[name], name


@pytest.mark.parametrize("workers", [0, 2])
def test_a_stored_run_equals_training_it_again(tmp_path, monkeypatch, workers):
    monkeypatch.delenv("FLATGAP_RUN_STORE", raising=False)
    tasks = _tasks()
    fresh = run_all(tasks, workers=workers)
    store = RunStore(tmp_path)
    first = run_all(tasks, workers=workers, store=store)
    assert (store.hits, store.misses) == (0, 2)
    again = run_all(tasks, workers=workers, store=store)
    assert (store.hits, store.misses) == (2, 2), "the second call trains nothing"
    for a, b, c in zip(fresh, first, again, strict=True):
        _same(a, b)
        _same(a, c)
        assert c["seconds"] == b["seconds"], "a stored run reports the time its training took"
    shutdown()


def test_the_key_changes_with_anything_that_decides_the_result():
    task = _tasks()[0]
    key = run_key(task, "worker")
    assert key == run_key(dict(task), "worker") and len(key) == 64
    images = task["train"][0].copy()
    images[0, 0, 0, 0] += 1e-6
    changed = [
        {**task, "seed": 1}, {**task, "learning_rate": 3e-2}, {**task, "max_epochs": 4}, {**task, "patience": 2},
        {**task, "config": {**task["config"], "filters": (8,)}}, {**task, "train": (images, task["train"][1])},
        {**task, "validation": (task["validation"][0], task["validation"][1][::-1].copy())},
    ]
    keys = {run_key(other, "worker") for other in changed} | {run_key(task, "in-process")}
    assert key not in keys and len(keys) == len(changed) + 1


def test_the_store_is_used_only_where_the_environment_names_it(tmp_path, monkeypatch):
    monkeypatch.delenv("FLATGAP_RUN_STORE", raising=False)
    assert store_from_environment() is None
    monkeypatch.setenv("FLATGAP_RUN_STORE", str(tmp_path / "runs"))
    assert store_from_environment().folder == tmp_path / "runs"
    store = RunStore(tmp_path)
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        store.get("../../etc/passwd")
    with pytest.raises(ValueError, match="where must be"):
        run_key(_tasks()[0], "gpu")
    key = "a" * 64
    (tmp_path / "aa").mkdir()
    (tmp_path / "aa" / f"{key}.pickle").write_bytes(b"truncated")
    assert store.get(key) is None, "an unreadable file counts as missing: the run is trained again"
