"""Sampling from several threads at once: the XLA-compiled loops run one at
a time (two at once drew wrong images with TensorFlow 2.21 on CPU)."""

import threading
import time

import numpy as np
import pytest

from pixel_keras import sampling
from pixel_keras.models import PixelCNNPlusPlus
from pixel_keras.sampling import sampler
from tests import helpers


def _sample_in_threads(function, arguments):
    results = [None] * len(arguments)

    def work(i):
        results[i] = function(*arguments[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(arguments))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.parametrize("jit_compile", [True, False])
def test_compiled_loops_never_run_at_once(monkeypatch, jit_compile):
    model = helpers.tiny_pixel_cnn_pp(image_shape=(3, 3, 1), num_levels=5, num_hierarchies=1)
    running, most = [0], [0]
    lock = threading.Lock()

    def loop(images, *_):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return images

    monkeypatch.setattr(sampler, "_loop", lambda *args, **kwargs: loop)
    images = np.zeros((2, 3, 3, 1), np.float32)
    known = np.zeros((2, 3, 3), bool)
    seeds = sampling.per_image_seeds(0, 2)
    arguments = [(model, images, known, seeds, None, np.ones(2, np.float32))] * 3
    _sample_in_threads(
        lambda *args: sampler.draw(*args, method="cached", jit_compile=jit_compile), arguments
    )
    # The uncompiled loop may run side by side; the compiled one never does.
    assert most[0] == (1 if jit_compile else 3)


@pytest.mark.slow
def test_threads_sampling_at_once_draw_the_images_of_one_thread():
    # The shapes that showed the race: a 32x32x3 PixelCNN++ with two levels
    # at batch 128 (a block of images differed in most runs without the lock).
    model = PixelCNNPlusPlus(
        image_shape=(32, 32, 3),
        num_filters=32,
        num_resnet=1,
        num_hierarchies=2,
        num_logistic_mix=5,
        dropout=0.0,
    )
    model(model.make_inputs(np.zeros((1, 32, 32, 3), np.float32), None))
    helpers.perturb_weights(model, 0.02)
    seeds = sampling.per_image_seeds(5, 256)
    arguments = [(128, seeds[:128]), (128, seeds[128:])]

    def sample(num, seed):
        return model.sample(num, seed=seed, jit_compile=True).numpy()

    alone = [sample(*argument) for argument in arguments]
    for _ in range(3):
        together = _sample_in_threads(sample, arguments)
        for expected, actual in zip(alone, together):
            np.testing.assert_array_equal(actual, expected)
