"""Paths of the repository and subprocess environments."""

import os
import socket


# The repository: tests/helpers/processes.py is three levels below it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def subprocess_env(**extra):
    """The environment of a test's subprocess: CPU only, TensorFlow quiet."""
    return dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", **extra)


def free_port():
    """A free TCP port on 127.0.0.1 (for a local multi-worker cluster)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
