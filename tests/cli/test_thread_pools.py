"""Thread pools: `training.distribute.set_thread_pools` sets them before
TensorFlow starts, and refuses bad sizes and late calls by name; `main.py`
takes them as `--intra_op_threads` and `--inter_op_threads`."""

import subprocess
import sys
import types

import pytest
import tensorflow as tf

from pixel_keras.cli import commands
from pixel_keras.training import distribute
from tests import helpers

ENV = helpers.subprocess_env(PYTHONPATH=helpers.ROOT)


def test_thread_pools_are_set_before_tensorflow_starts():
    script = (
        "import tensorflow as tf\n"
        "from pixel_keras.training import distribute\n"
        "distribute.set_thread_pools(intra_op_threads=1, inter_op_threads=3)\n"
        "tf.zeros([2]) + 1\n"
        "threads = tf.config.threading\n"
        "print(threads.get_intra_op_parallelism_threads(), "
        "threads.get_inter_op_parallelism_threads())\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=helpers.ROOT, env=ENV,
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["1", "3"]


def test_none_leaves_tensorflow_s_pools():
    before = tf.config.threading.get_intra_op_parallelism_threads()
    distribute.set_thread_pools()
    distribute.set_thread_pools(intra_op_threads=None, inter_op_threads=None)
    assert tf.config.threading.get_intra_op_parallelism_threads() == before


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "2"])
def test_bad_pool_sizes_are_refused_by_name(size):
    with pytest.raises(ValueError, match=r"`intra_op_threads` .*positive int. Received"):
        distribute.set_thread_pools(intra_op_threads=size)


def test_pools_after_tensorflow_started_are_refused_by_name():
    tf.zeros([1]) + 1  # TensorFlow has started in this process.
    other = tf.config.threading.get_inter_op_parallelism_threads() + 5
    with pytest.raises(RuntimeError, match=f"inter_op_threads={other}: .*fixed when it"):
        distribute.set_thread_pools(inter_op_threads=other)


def test_commands_refuse_pools_after_tensorflow_started_with_exit_status_2(capsys):
    tf.zeros([1]) + 1
    other = tf.config.threading.get_intra_op_parallelism_threads() + 5
    with pytest.raises(SystemExit) as exit_info:
        commands.run("sample", types.SimpleNamespace(intra_op_threads=other))
    assert exit_info.value.code == 2
    assert f"intra_op_threads={other}" in capsys.readouterr().err


def test_main_refuses_a_pool_of_no_threads():
    run = subprocess.run(
        [sys.executable, "main.py", "sample", "--intra_op_threads=0"],
        cwd=helpers.ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode != 0
    assert "--intra_op_threads must be a positive int" in run.stderr
