"""Strategies by name, TF_CONFIG checks, and mirrored training on two CPU
devices."""

import json
import types

import pytest

from pixel_keras.training import distribute
from tests import helpers

ENV = helpers.subprocess_env(PYTHONPATH=helpers.ROOT)


def _tf_config(**overrides):
    config = {
        "cluster": {"worker": ["localhost:2001", "localhost:2002"]},
        "task": {"type": "worker", "index": 1},
    }
    config.update(overrides)
    return json.dumps(config)


def test_tf_config_is_parsed():
    config = distribute.parse_tf_config(_tf_config())
    assert config["task"] == {"type": "worker", "index": 1}


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "not set"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        (_tf_config(cluster={}), "non-empty `cluster`"),
        (_tf_config(cluster={"workers": ["a:1"]}), "unknown task type 'workers'"),
        (_tf_config(cluster={"worker": ["no-port"]}), "'host:port'"),
        (_tf_config(task={"type": "worker"}), "`type` and `index`"),
        (_tf_config(task={"type": "chief", "index": 0}), "not in the cluster"),
        (_tf_config(task={"type": "worker", "index": 2}), r"index must be an int in \[0, 2\)"),
        (_tf_config(task={"type": "worker", "index": True}), "index must be an int"),
    ],
)
def test_bad_tf_config_is_refused_clearly(value, message):
    with pytest.raises(ValueError, match=message):
        distribute.parse_tf_config(value)


def test_multi_worker_without_tf_config_is_refused(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.make_strategy("multi_worker")


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="--strategy .*'horovod'"):
        distribute.make_strategy("horovod")


def test_tpu_resolver_arguments():
    assert distribute.tpu_resolver_arguments("grpc://10.0.0.2:8470") == {
        "tpu": "grpc://10.0.0.2:8470"
    }
    assert distribute.tpu_resolver_arguments("my-tpu") == {"tpu": "my-tpu"}
    assert distribute.tpu_resolver_arguments("local") == {"tpu": "local"}
    with pytest.raises(ValueError, match="--tpu"):
        distribute.make_strategy("tpu", tpu=None)


def test_global_batch_must_split_evenly():
    strategy = types.SimpleNamespace(num_replicas_in_sync=2)
    distribute.check_global_batch(32, strategy)
    with pytest.raises(ValueError, match="divisible by the 2 replicas.*=33"):
        distribute.check_global_batch(33, strategy)


def test_default_strategies_on_a_cpu_machine():
    import tensorflow as tf

    assert distribute.make_strategy("auto") is tf.distribute.get_strategy()
    one = distribute.make_strategy("one_device")
    assert one.num_replicas_in_sync == 1


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_device():
    helpers.assert_mirrored_fit_matches_one_device(
        "PixelCNNPlusPlus", {"num_filters": 8, "num_logistic_mix": 2, "dropout": 0.0}, env=ENV
    )
