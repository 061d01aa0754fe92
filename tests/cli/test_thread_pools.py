"""`--intra_op_threads` and `--inter_op_threads`: TensorFlow's thread pools,
set before the command runs anything, and refused with the flag's name once
TensorFlow has started with other pools."""

import subprocess
import sys
import types

import pytest
import tensorflow as tf

from cli import commands
from tests import helpers

ENV = helpers.subprocess_env(PYTHONPATH=helpers.ROOT)


def test_thread_pools_are_set_before_tensorflow_starts():
    script = (
        "import types\n"
        "import tensorflow as tf\n"
        "from cli import commands\n"
        "commands.set_thread_pools(types.SimpleNamespace(intra_op_threads=1, "
        "inter_op_threads=3))\n"
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


def test_unset_flags_leave_tensorflow_s_pools():
    before = tf.config.threading.get_intra_op_parallelism_threads()
    commands.set_thread_pools(types.SimpleNamespace(intra_op_threads=None))
    commands.set_thread_pools(types.SimpleNamespace())
    assert tf.config.threading.get_intra_op_parallelism_threads() == before


def test_pools_after_tensorflow_started_are_refused_by_flag_name():
    tf.zeros([1]) + 1  # TensorFlow has started in this process.
    other = tf.config.threading.get_inter_op_parallelism_threads() + 5
    with pytest.raises(RuntimeError, match=f"--inter_op_threads={other}: .*fixed when it starts"):
        commands.set_thread_pools(types.SimpleNamespace(inter_op_threads=other))


def test_main_refuses_a_pool_of_no_threads():
    run = subprocess.run(
        [sys.executable, "main.py", "sample", "--intra_op_threads=0"],
        cwd=helpers.ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode != 0
    assert "--intra_op_threads must be a positive int" in run.stderr
