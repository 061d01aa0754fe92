"""What the tests share: tiny models, the Keras-style layer and model checks,
causality and likelihood references, and the builders several folders use.

Tests import it as `from tests import helpers`; `tests/conftest.py` holds
fixtures only, and no test module imports another.

Sections:
    Paths and processes          ROOT, subprocess_env, free_port
    Tiny models                  tiny_pixel_cnn_pp, tiny_pixel_cnn, tiny_pixel_rnn, ...
    Keras-style checks           check_layer, check_model
    Causality by gradients       input_gradient_maps, assert_raster_causal, jacobian
    Sub-pixel dependencies       subpixel_dependencies, assert_autoregressive, ...
    Exact pmfs and sample fits   all_images, categorical_log_prob, sharpen, ...
    Cached sub-pixel samplers    the checks the PixelCNN and PixelRNN folders share
    Image LSTM references        numpy_lstm_cell, randomize_weights
    Logistic mixture reference   the float64 NumPy/SciPy PixelCNN++ likelihood
    Data files                   save_npz, random_images, write_png, example_counter
    Command-line configs         run_config, tiny_run_config, export_config
    Export                       export_model_of, base_inputs, signature_inputs, ...
    Training                     optimizer_averages, trainable_values, ...
    Graph audit                  broadcasting_matmuls
"""

import collections
import itertools
import math
import os
import socket
import tempfile
import types

import keras
import numpy as np
import scipy.special
import scipy.stats
import tensorflow as tf

# --- Paths and processes -------------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def subprocess_env(**extra):
    """The environment of a test's subprocess: CPU only, TensorFlow quiet."""
    return dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", **extra)


def free_port():
    """A free TCP port on 127.0.0.1 (for a local multi-worker cluster)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Tiny models ---------------------------------------------------------------


def tiny_pixel_cnn_pp(**overrides):
    """A small PixelCNN++ built from the `tiny` preset."""
    from pixel_keras.models import PixelCNNPlusPlus

    config = {"num_filters": 8, "num_logistic_mix": 2}
    config.update(overrides)
    return PixelCNNPlusPlus.from_preset("tiny", **config)


def tiny_pixel_cnn(**overrides):
    """A small PixelCNN built from the `tiny` preset."""
    from pixel_keras.models import PixelCNN

    config = {"num_filters": 6, "num_layers": 1, "output_filters": 12}
    config.update(overrides)
    return PixelCNN.from_preset("tiny", **config)


def tiny_pixel_rnn(kind, **overrides):
    """A small PixelRNN built from the `tiny` preset."""
    from pixel_keras.models import PixelRNN

    config = {"kind": kind, "num_filters": 6, "num_layers": 1, "output_filters": 12}
    config.update(overrides)
    return PixelRNN.from_preset("tiny", **config)


def perturb_weights(model, scale, seed=0):
    """Moves every weight off its initial value by normal noise of `scale`
    (zero biases, gates near the identity), so that every weight changes
    the outputs noticeably."""
    generator = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(weight + generator.normal(0.0, scale, weight.shape).astype("float32"))
    return model


def digits(limit=None, split="train", labels=False):
    """The embedded digits as float32 images (and int labels)."""
    from pixel_keras import data

    images, label_values = data.images_and_labels(
        getattr(data.load("digits"), split), limit=limit
    )
    images = images.astype("float32")
    return (images, label_values) if labels else images


# --- Keras-style checks --------------------------------------------------------


def _to_numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))


def _assert_same(actual, expected, atol, what):
    actual, expected = _to_numpy(actual), _to_numpy(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol, err_msg=what)


def _is_array(value):
    return isinstance(value, (np.ndarray, tf.Tensor)) or keras.ops.is_tensor(value)


def check_layer(
    layer_class,
    init_kwargs,
    input_data,
    *,
    call_kwargs=None,
    prepare=None,
    expected_output_shape=None,
    expected_num_weights=None,
    expected_config=None,
    tmp_path=None,
    atol=0.0,
):
    """The Keras-style checks every public layer goes through.

    Modelled on Keras' `TestCase.run_layer_test` (its serialization test)
    and keras-hub's saving test:

    1. Builds `layer_class(**init_kwargs)` on `input_data` (called with
       `call_kwargs`) and checks the output shape and number of weights when
       they are given; `prepare(layer)` may then change the weights (move
       them off their initial values, so that every weight matters).
    2. `get_config` / `from_config`: the configs are equal (and hold
       `expected_config`), a fresh instance and its clone have the same
       attributes, and the clone, given the layer's weights, computes the
       same outputs.
    3. `serialize_keras_object` / `deserialize_keras_object`: the same class
       and config.
    4. A `.keras` file (`keras.saving.save_model` / `load_model`) of a
       functional model of the layer: the loaded layer is of the same class
       and computes the same outputs.

    Args:
        layer_class: the layer class.
        init_kwargs: dict, the constructor's arguments.
        input_data: the first argument of `call`, an array.
        call_kwargs: dict of `call`'s other arguments; arrays among them
            become inputs of the saved model, the rest are passed as given.
        prepare: optional `prepare(layer)`, called after building.
        expected_output_shape: optional tuple.
        expected_num_weights: optional int, `len(layer.weights)`.
        expected_config: optional dict that the config must contain.
        tmp_path: folder for the `.keras` file (pytest's `tmp_path`);
            None for a temporary folder.
        atol: allowed difference of outputs (0: identical).

    Returns:
        A namespace: `layer`, `outputs`, `clone` (from the config),
        `revived` (deserialized) and `loaded` (from the `.keras` file).
    """
    call_kwargs = dict(call_kwargs or {})
    layer = layer_class(**init_kwargs)
    layer(input_data, **call_kwargs)
    if prepare is not None:
        prepare(layer)
    outputs = layer(input_data, **call_kwargs)
    if expected_output_shape is not None:
        assert tuple(outputs.shape) == tuple(expected_output_shape), outputs.shape
    if expected_num_weights is not None:
        assert len(layer.weights) == expected_num_weights, [w.path for w in layer.weights]

    # get_config / from_config.
    config = layer.get_config()
    for key, value in (expected_config or {}).items():
        assert config[key] == value, (key, config[key], value)
    clone = layer_class.from_config(config)
    assert clone.get_config() == config
    fresh = layer_class(**init_kwargs)
    assert set(dir(layer_class.from_config(fresh.get_config()))) == set(dir(fresh))
    clone(input_data, **call_kwargs)
    clone.set_weights(layer.get_weights())
    _assert_same(clone(input_data, **call_kwargs), outputs, atol, "from_config")

    # serialize_keras_object / deserialize_keras_object.
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is layer_class
    assert revived.get_config() == config

    # The .keras file of a functional model of the layer.
    data = np.asarray(keras.ops.convert_to_numpy(input_data))
    inputs = {"inputs": keras.Input(data.shape[1:], dtype=data.dtype.name, name="inputs")}
    values = {"inputs": data}
    symbolic_kwargs = {}
    for name, value in call_kwargs.items():
        if _is_array(value):
            array = np.asarray(keras.ops.convert_to_numpy(value))
            inputs[name] = keras.Input(array.shape[1:], dtype=array.dtype.name, name=name)
            values[name] = array
            symbolic_kwargs[name] = inputs[name]
        else:
            symbolic_kwargs[name] = value
    model = keras.Model(inputs, layer(inputs["inputs"], **symbolic_kwargs))
    _assert_same(model(values), outputs, atol, "functional model")
    folder = tmp_path if tmp_path is not None else tempfile.mkdtemp()
    path = os.path.join(str(folder), f"{layer_class.__name__}.keras")
    keras.saving.save_model(model, path)
    loaded_model = keras.saving.load_model(path)
    loaded = loaded_model.get_layer(layer.name)
    assert type(loaded) is layer_class
    assert loaded.get_config() == config
    _assert_same(loaded_model(values), outputs, atol, ".keras")
    return types.SimpleNamespace(
        layer=layer, outputs=outputs, clone=clone, revived=revived, loaded=loaded
    )


def check_model(model, images, condition=None, *, tmp_path=None, rtol=0.0):
    """The Keras-style checks every model family goes through.

    Modelled on keras-hub's `run_model_saving_test`:

    1. `get_config` / `from_config`: the configs are equal, and the clone,
       given the model's weights, has the same outputs and `log_prob`.
    2. A `.keras` file (`keras.saving.save_model` / `load_model`): a model
       of the same class and config, with the same outputs and `log_prob`;
       a compiled model's optimizer comes back with its step count.

    Args:
        model: a pixel_keras model.
        images: `(batch, *image_shape)` integer-valued images.
        condition: the condition of a conditional model, else None.
        tmp_path: folder for the `.keras` file (pytest's `tmp_path`);
            None for a temporary folder.
        rtol: allowed relative difference of outputs and `log_prob` (0:
            identical).

    Returns:
        A namespace: `clone`, `loaded` and the model's `log_prob`.
    """
    inputs = model.make_inputs(images, condition)
    outputs = _to_numpy(model(inputs, training=False))
    log_prob = _to_numpy(model.log_prob(images, condition))
    config = model.get_config()

    def assert_same_model(other, what):
        assert type(other) is type(model), (what, type(other))
        assert other.get_config() == config, what
        np.testing.assert_allclose(
            _to_numpy(other(inputs, training=False)), outputs, rtol=rtol, atol=0, err_msg=what
        )
        np.testing.assert_allclose(
            _to_numpy(other.log_prob(images, condition)), log_prob, rtol=rtol, atol=0,
            err_msg=what,
        )

    clone = type(model).from_config(config)
    clone.set_weights(model.get_weights())
    assert_same_model(clone, "from_config")

    folder = tmp_path if tmp_path is not None else tempfile.mkdtemp()
    path = os.path.join(str(folder), f"{model.name}.keras")
    keras.saving.save_model(model, path)
    loaded = keras.saving.load_model(path)
    assert_same_model(loaded, ".keras")
    if getattr(model, "optimizer", None) is not None:
        assert type(loaded.optimizer) is type(model.optimizer)
        assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)
    return types.SimpleNamespace(clone=clone, loaded=loaded, log_prob=log_prob)


# --- Causality by gradients ----------------------------------------------------


def input_gradient_maps(fn, inputs, positions):
    """|d sum(fn(inputs)[:, r, c, :]) / d inputs| summed over channels.

    Args:
        fn: maps a float `(B, H, W, C)` tensor to `(B, H', W', D)`.
        inputs: float `(B, H, W, C)` array.
        positions: iterable of output positions `(r, c)`.

    Returns:
        dict `(r, c) -> (H, W)` array of summed absolute gradients.
    """
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    maps = {}
    for r, c in positions:
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = fn(inputs)
            target = tf.reduce_sum(outputs[:, r, c, :])
        gradient = tape.gradient(target, inputs)
        maps[(r, c)] = np.abs(gradient.numpy()).sum(axis=(0, 3))
    return maps


def assert_raster_causal(maps, width):
    """Each output depends on no input at or after it, and on some before it."""
    for (r, c), gradient in maps.items():
        flat = gradient.reshape(-1)
        position = r * gradient.shape[1] + c
        assert np.all(flat[position:] == 0.0), (
            f"output ({r}, {c}) depends on inputs at or after it: "
            f"{np.argwhere(gradient > 0).tolist()}"
        )
        if position > 0:
            assert flat[:position].sum() > 0.0, (
                f"output ({r}, {c}) depends on no earlier input"
            )


def jacobian(fn, x):
    """|d fn(x)[r, c, d] / d x[r', c', k]| as `(H, W, D, H, W, Cin)`.

    One backward pass: batch element n is a copy of `x` whose cotangent is the
    one-hot of output `(r, c, d)` number n (batch elements are independent).
    """
    x = np.asarray(x, np.float32)
    height, width, _ = x.shape
    depth = fn(x[None]).shape[-1]
    count = height * width * depth
    inputs = tf.convert_to_tensor(np.repeat(x[None], count, axis=0))
    onehot = np.eye(count, dtype=np.float32).reshape(count, height, width, depth)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = fn(inputs)
    gradient = tape.gradient(outputs, inputs, output_gradients=tf.constant(onehot))
    return np.abs(gradient.numpy()).reshape(height, width, depth, height, width, -1)


# --- Sub-pixel dependencies (PixelCNN, PixelRNN) -------------------------------


def subpixel_dependencies(model, images, condition=None):
    """Which input sub-pixels the logits of each output sub-pixel depend on.

    The gradient of the logits of one sub-pixel with respect to the image
    is taken at several images, as a ReLU can hide a dependence at one of
    them. All in one backward pass: every image is repeated once per output
    sub-pixel and copy `k` back-propagates only the logits of sub-pixel `k`
    (the copies do not interact, as no layer mixes the batch).

    Args:
        model: a PixelCNN or PixelRNN.
        images: `(N, H, W, C)` integer-valued images.
        condition: int `(N,)` class labels for a class-conditional model.

    Returns:
        bool `(H, W, C, H, W, C)`: `[r, c, k]` marks the input sub-pixels
        that the logits of channel `k` at pixel `(r, c)` depend on at some
        of the images.
    """
    shape = model.image_shape
    size = math.prod(shape)
    images = np.asarray(images, np.float32)
    num = len(images)
    batch = tf.constant(np.repeat(images, size, 0))
    selector = np.tile(np.eye(size, dtype=np.float32), (num, 1))
    selector = selector.reshape(num * size, *shape, 1)
    if condition is not None:
        condition = np.repeat(np.asarray(condition, np.int32), size)
    with tf.GradientTape() as tape:
        tape.watch(batch)
        outputs = model(model.make_inputs(batch, condition), training=False)
        target = tf.reduce_sum(selector * model.channel_logits(outputs))
    gradient = np.abs(tape.gradient(target, batch).numpy())
    gradient = gradient.reshape(num, *shape, *shape).sum(axis=0)
    return gradient > 0


def perturbation_dependencies(model, images, condition=None):
    """Which input sub-pixels each output sub-pixel's logits depend on, found
    by changing one input value at a time (one-hot and embedded inputs have
    no gradient with respect to the values).

    Returns:
        bool `(H, W, C, H, W, C)`, as `subpixel_dependencies`.
    """
    shape = model.image_shape
    images = np.asarray(images, np.float32)
    num = len(images)
    changed = []
    for index in itertools.product(*(range(d) for d in shape)):
        moved = images.copy()
        moved[(slice(None), *index)] = (moved[(slice(None), *index)] + 1) % model.num_levels
        changed.append(moved)
    batch = np.concatenate([images, *changed])
    conditions = None
    if condition is not None:
        conditions = np.tile(condition, (len(changed) + 1,) + (1,) * (condition.ndim - 1))
    logits = model.channel_logits(model(model.make_inputs(batch, conditions))).numpy()
    base, moved = logits[:num], logits[num:].reshape(len(changed), num, *logits.shape[1:])
    # Above rounding: the rows of one batch may be computed in different
    # orders, so unchanged logits can still differ in their last bits.
    differs = np.abs(moved - base).max(axis=(1, -1)) > 1e-4  # (inputs, H, W, C)
    return np.moveaxis(differs.reshape(*shape, *shape), (0, 1, 2), (3, 4, 5))


def window_a(height, width):
    """Earlier pixels inside the 7 x 7 mask-A window of each pixel."""
    field = np.zeros((height, width, height, width), bool)
    for r, c in itertools.product(range(height), range(width)):
        field[r, c, max(r - 3, 0) : r, max(c - 3, 0) : c + 4] = True
        field[r, c, r, max(c - 3, 0) : c] = True
    return field


def expected_dependencies(image_shape, layer_reads):
    """The sub-pixel dependencies that a stack of masked layers allows.

    The 7 x 7 mask-A input convolution gives channel group `g` at position
    `q` every channel of the earlier pixels in its window and channels `< g`
    of pixel `q`. Every later layer gives group `g` at `p` what groups
    `<= g` at `p` had, and everything any group had at each other position
    it reads (other positions are read through all channel groups).

    Args:
        image_shape: `(H, W, C)`.
        layer_reads: for each layer after the input convolution, bool
            `(H, W, H, W)`: the positions other than itself whose features
            the layer's output at each position reads.

    Returns:
        bool `(H, W, C, H, W, C)`, as `subpixel_dependencies`.
    """
    height, width, channels = image_shape
    size = height * width
    seen = np.zeros((size, channels, size, channels), bool)
    seen |= window_a(height, width).reshape(size, 1, size, 1)
    for g in range(channels):
        seen[np.arange(size), g, np.arange(size), :g] = True
    for reads in layer_reads:
        everything = seen[:, -1].reshape(size, size * channels).astype(np.int64)
        reached = reads.reshape(size, size).astype(np.int64) @ everything > 0
        seen |= reached.reshape(size, 1, size, channels)
    return seen.reshape(height, width, channels, height, width, channels)


def assert_autoregressive(dependencies):
    """Raster order and R -> G -> B order, with dependence where it must be.

    The logits of channel `k` at pixel `i` depend on no pixel after `i` and
    on no channel `>= k` of `i`; they depend on some earlier pixel (when there
    is one) and, for `k > 0`, on channel `k - 1` of `i`.
    """
    height, width, channels = dependencies.shape[:3]
    flat = dependencies.reshape(height * width, channels, height * width, channels)
    for i, k in itertools.product(range(height * width), range(channels)):
        where = f"channel {k} of pixel {divmod(i, width)}"
        assert not flat[i, k, i + 1 :].any(), f"{where} depends on later pixels"
        assert not flat[i, k, i, k:].any(), f"{where} depends on channels >= {k}"
        if i > 0:
            assert flat[i, k, :i].any(), f"{where} depends on no earlier pixel"
        if k > 0:
            assert flat[i, k, i, k - 1], f"{where} ignores channel {k - 1}"


# --- Exact pmfs and sample fits ------------------------------------------------


def all_images(image_shape, num_levels):
    """Every image of `image_shape` with values in `[0, num_levels)`."""
    values = itertools.product(range(num_levels), repeat=math.prod(image_shape))
    return np.array(list(values), np.int64).reshape(-1, *image_shape)


def image_index(images, num_levels):
    """The row of each image in `all_images` (last sub-pixel fastest)."""
    flat = np.asarray(images, np.int64).reshape(len(images), -1)
    return flat @ num_levels ** np.arange(flat.shape[1] - 1, -1, -1)


def categorical_log_prob(model, images, condition=None, temperature=1.0):
    """log p(images) in float64 under a PixelCNN or PixelRNN: log-softmax of
    each sub-pixel's logits at its value, summed, for logits divided by
    `temperature`."""
    images = np.asarray(images)
    outputs = model(model.make_inputs(images, condition), training=False)
    logits = model.channel_logits(outputs).numpy().astype(np.float64) / temperature
    log_softmax = logits - scipy.special.logsumexp(logits, axis=-1, keepdims=True)
    picked = np.take_along_axis(log_softmax, images[..., None].astype(np.int64), -1)
    return picked.sum(axis=(1, 2, 3, 4))


def sharpen(model, images, std=2.5):
    """Scales the last layer's kernel so that the logits at `images` have
    standard deviation `std` (about 0.02 at initialization): the conditionals
    are then far from uniform and far from one another, so that a wrong
    likelihood or sampler would show. The output stack after the last
    nonlinearity is linear without biases at initialization, so the logits
    scale with the kernel."""
    outputs = model(np.asarray(images, np.float32), training=False)
    layer = model.get_layer("logits")
    layer.kernel.assign(layer.kernel * (std / float(np.std(outputs))))


def sample_fit_p_value(samples, log_probs, num_levels):
    """Chi-square p-value of sampled images against exact `log_probs` over
    `all_images` (outcomes expected fewer than 5 times are pooled)."""
    counts = np.bincount(image_index(samples, num_levels), minlength=len(log_probs))
    probs = np.exp(log_probs - scipy.special.logsumexp(log_probs))
    expected = probs * len(samples)
    small = expected < 5
    if small.any():
        counts = np.append(counts[~small], counts[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    return scipy.stats.chisquare(counts, expected).pvalue


def independent_log_probs(log_probs, images):
    """log pmf of the sub-pixels drawn independently from their marginals."""
    probs = np.exp(log_probs)
    flat = np.asarray(images).reshape(len(images), -1)
    result = np.zeros(len(images))
    for column in flat.T:
        marginal = np.bincount(column, weights=probs)
        result += np.log(marginal[column])
    return result


# --- Cached sub-pixel samplers (PixelCNN, Row LSTM, Diagonal BiLSTM) ------------

# (image_shape, num_levels, num_filters, num_classes): colour and grey,
# categorical and Bernoulli, with and without labels; heights and widths
# differ so that rows and columns cannot be swapped unnoticed.
SUBPIXEL_CONFIGS = {
    "rgb": ((5, 6, 3), 4, 4, None),
    "grey_classes": ((6, 5, 1), 17, 3, 3),
    "rgb_bernoulli_classes": ((4, 5, 3), 2, 5, 2),
}
SUBPIXEL_BATCH = 3


def subpixel_model(kind, **arguments):
    """A PixelCNN (`kind="pixel_cnn"`) or PixelRNN of 2 layers, its weights
    moved off their initial values (zero biases, forget gates at 1) so that
    every weight changes the logits noticeably."""
    from pixel_keras.models import PixelCNN
    from pixel_keras.models import PixelRNN

    keras.utils.set_random_seed(0)
    arguments = dict(num_layers=2, output_filters=6, **arguments)
    if kind == "pixel_cnn":
        model = PixelCNN(**arguments)
    else:
        model = PixelRNN(kind=kind, **arguments)
    return perturb_weights(model, 0.3)


def subpixel_model_of_config(kind, config):
    """`subpixel_model` of one of `SUBPIXEL_CONFIGS`."""
    image_shape, num_levels, num_filters, num_classes = SUBPIXEL_CONFIGS[config]
    return subpixel_model(
        kind,
        image_shape=image_shape,
        num_levels=num_levels,
        num_filters=num_filters,
        num_classes=num_classes,
    )


def class_labels(model, num):
    """`num` valid class labels for a class-conditional model, else None."""
    if model.num_classes is None:
        return None
    return np.arange(num) % model.num_classes


def network_logits(model, images, condition):
    """The full network's per-channel logits at `images`."""
    outputs = model(model.make_inputs(images, condition), training=False)
    return model.channel_logits(outputs).numpy()


def assert_cached_logits_equal_the_network(model, sampler):
    """Random images exercise every cache (rows above, pixels to the left,
    centre taps, the backward scan) against the full network at every
    sub-pixel."""
    generator = np.random.default_rng(1)
    images = generator.integers(0, model.num_levels, (SUBPIXEL_BATCH, *model.image_shape))
    condition = class_labels(model, SUBPIXEL_BATCH)
    expected = network_logits(model, images, condition)
    actual = sampler.cached_logits(model, images, condition)
    assert actual.shape == expected.shape
    # Not a trivial match: the logits vary between sub-pixels.
    assert np.std(expected) > 0.1
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=1e-5)


def assert_cached_and_naive_samples_identical(model, sampler):
    from pixel_keras import sampling

    seeds = sampling.per_image_seeds(5, SUBPIXEL_BATCH)
    temperature = np.array([1.0, 0.5, 2.0], np.float32)
    condition = class_labels(model, SUBPIXEL_BATCH)
    kwargs = {"condition": condition, "temperature": temperature}
    naive = model.sample(SUBPIXEL_BATCH, seed=seeds, method="naive", **kwargs).numpy()
    fast = model.sample(SUBPIXEL_BATCH, seed=seeds, method="cached", **kwargs).numpy()
    np.testing.assert_array_equal(fast, naive)
    assert len(np.unique(fast)) > 1
    # Teacher forcing: the cached loop, given its own samples, recomputes
    # the logits it drew them from; they are the network's at those images.
    np.testing.assert_allclose(
        sampler.cached_logits(model, fast, condition),
        network_logits(model, fast, condition),
        atol=1e-5,
        rtol=1e-5,
    )


def assert_cached_and_naive_completions_identical(model):
    generator = np.random.default_rng(2)
    images = generator.integers(0, model.num_levels, (SUBPIXEL_BATCH, *model.image_shape))
    known = generator.random((SUBPIXEL_BATCH, *model.image_shape[:2])) < 0.5
    known[0] = True  # one image entirely known
    kwargs = {"condition": class_labels(model, SUBPIXEL_BATCH), "seed": 9, "known_mask": known}
    naive = model.complete(images, method="naive", **kwargs).numpy()
    fast = model.complete(images, method="cached", **kwargs).numpy()
    np.testing.assert_array_equal(fast, naive)
    np.testing.assert_array_equal(fast[known], images[known])
    assert not np.array_equal(fast[~known], images[~known])


def assert_cached_loop_traces_with_one_image_and_an_unknown_batch(model):
    """For a fresh model of `"grey_classes"`: the first trace has a batch of 1
    (a static dimension that broadcasting does not keep), and then, as in an
    exported serving function, a batch that is None at trace time."""
    from pixel_keras import sampling

    shape = model.image_shape
    seeds = sampling.per_image_seeds(3, 2)
    condition = np.array([2, 0], np.int32)
    temperature = np.array([1.0, 0.8], np.float32)
    alone = model.sample(
        1, seed=seeds[:1], condition=condition[:1], temperature=temperature[:1]
    ).numpy()

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, *shape], tf.float32),
            tf.TensorSpec([None, *shape[:2]], tf.bool),
            tf.TensorSpec([None, 2], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float32),
        ]
    )
    def draw(images, known, seeds, condition, temperature):
        return sampling.draw(model, images, known, seeds, condition, temperature, method="cached")

    images = tf.zeros([2, *shape])
    known = tf.zeros([2, *shape[:2]], tf.bool)
    images = draw(images, known, seeds, condition, temperature).numpy()
    expected = model.sample(
        2, seed=seeds, condition=condition, temperature=temperature, method="naive"
    )
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(alone, images[:1])


def assert_cached_sampler_reads_embedded_pixels_and_condition_values(kind, sampler):
    """A learned table per channel feeds `input_conv` several features per
    channel, and a conditioning map (not labels) feeds every layer."""
    from pixel_keras import sampling

    model = subpixel_model(
        kind,
        image_shape=(4, 5, 3),
        num_levels=5,
        num_filters=4,
        conditional_shape=(2, 3),
        input_encoding="embedding",
        embedding_dim=3,
    )
    generator = np.random.default_rng(1)
    images = generator.integers(0, 5, (SUBPIXEL_BATCH, *model.image_shape))
    condition = generator.normal(size=(SUBPIXEL_BATCH, 2, 3)).astype("float32")
    np.testing.assert_allclose(
        sampler.cached_logits(model, images, condition),
        network_logits(model, images, condition),
        atol=1e-5,
        rtol=1e-5,
    )
    seeds = sampling.per_image_seeds(4, SUBPIXEL_BATCH)
    naive = model.sample(SUBPIXEL_BATCH, seed=seeds, condition=condition, method="naive")
    fast = model.sample(SUBPIXEL_BATCH, seed=seeds, condition=condition, method="cached")
    np.testing.assert_array_equal(fast.numpy(), naive.numpy())


# --- Image LSTM references -----------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm_cell(gates, cell):
    """NumPy LSTM cell from pre-activations in i, f, o, g block order."""
    i, f, o, g = np.split(gates, 4, axis=-1)
    cell = sigmoid(f) * cell + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(cell), cell


def randomize_weights(layer, scale=0.5, seed=0, cell_bias=True):
    """Random normal weights; `cell_bias=False` zeroes the g-gate biases of
    an image LSTM (the last quarter of each bias)."""
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        values = rng.normal(scale=scale, size=weight.shape)
        if not cell_bias and weight.path.endswith("bias"):
            values[3 * (weight.shape[0] // 4) :] = 0.0
        weight.assign(values)


# The map size of the image LSTM layer tests.
LSTM_HEIGHT, LSTM_WIDTH = 6, 7


def image_lstm(kind, units, channels, groups=1, **randomize):
    """A built `RowLSTM` (`"row"`), `DiagonalLSTM` (`"diagonal"`) or
    `DiagonalBiLSTM` (`"bidiagonal"`) on `LSTM_HEIGHT x LSTM_WIDTH` maps of
    `channels`, with `randomize_weights(**randomize)`."""
    from pixel_keras import layers

    layer_class = {
        "row": layers.RowLSTM,
        "diagonal": layers.DiagonalLSTM,
        "bidiagonal": layers.DiagonalBiLSTM,
    }[kind]
    layer = layer_class(units, num_channel_groups=groups)
    layer.build((None, LSTM_HEIGHT, LSTM_WIDTH, channels))
    randomize_weights(layer, **randomize)
    return layer


def lstm_input(channels, batch=None, seed=0):
    """A random `LSTM_HEIGHT x LSTM_WIDTH` map (with a batch axis if `batch`)."""
    shape = (LSTM_HEIGHT, LSTM_WIDTH, channels)
    if batch is not None:
        shape = (batch, *shape)
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def pixel_dependency_sets(jac):
    """`(r, c) -> set of input pixels` that output pixel `(r, c)` reads, from
    a `jacobian`."""
    height, width = jac.shape[:2]
    sets = {}
    for r, c in itertools.product(range(height), range(width)):
        rows, cols = np.nonzero(jac[r, c].sum(axis=(0, 3)))
        sets[(r, c)] = set(zip(rows.tolist(), cols.tolist()))
    return sets


def masked_kernel(conv):
    """A `MaskedConv2D`'s kernel with its mask applied, as NumPy."""
    return keras.ops.convert_to_numpy(conv.kernel) * keras.ops.convert_to_numpy(conv.mask)


# --- Logistic mixture reference (independent float64 NumPy/SciPy) ---------------


def _log_logistic_bin(lo, hi, is_first, is_last):
    """log P(lo < X < hi) for a standard logistic X, stable in every regime.

    The lowest bin extends to -inf and the highest to +inf. Differences are
    taken on the side of the mode where they do not cancel: in the upper tail
    as survival-function differences, in the lower tail as cdf differences.
    """
    logistic = scipy.stats.logistic
    lo, hi, is_first, is_last = np.broadcast_arrays(lo, hi, is_first, is_last)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logsf_lo, logsf_hi = logistic.logsf(lo), logistic.logsf(hi)
        logcdf_lo, logcdf_hi = logistic.logcdf(lo), logistic.logcdf(hi)
        # sf(lo) - sf(hi) = sf(lo) * (1 - exp(logsf(hi) - logsf(lo))).
        upper_tail = logsf_lo + np.log(-np.expm1(logsf_hi - logsf_lo))
        lower_tail = logcdf_hi + np.log(-np.expm1(logcdf_lo - logcdf_hi))
        # The bin contains the mode: both excluded masses are below 1/2.
        around_mode = np.log1p(-(logistic.cdf(lo) + logistic.sf(hi)))
    interior = np.where(
        lo >= 0.0, upper_tail, np.where(hi <= 0.0, lower_tail, around_mode)
    )
    return np.where(is_first, logcdf_hi, np.where(is_last, logsf_lo, interior))


def mixture_log_prob(values, logits, locs, log_scales, coefficients, num_levels):
    """float64 log pmf of the discretized logistic mixture; values `[..., C]`,
    parameters `[..., K(, C)]`."""
    values = np.asarray(values, np.float64)
    logits = np.asarray(logits, np.float64)
    locs = np.asarray(locs, np.float64)
    log_scales = np.asarray(log_scales, np.float64)
    top = num_levels - 1
    x = (2.0 * values - top) / top
    # Bin edges from exact integer numerators, so neighbouring bins share them.
    lower_edges = (2.0 * values - num_levels) / top
    upper_edges = (2.0 * values - num_levels + 2.0) / top
    total = scipy.special.log_softmax(logits, axis=-1)
    for c in range(locs.shape[-1]):
        mean = locs[..., c]
        for j in range(c):
            coefficient = np.asarray(coefficients, np.float64)[..., c * (c - 1) // 2 + j]
            mean = mean + coefficient * x[..., None, j]
        scale = np.exp(log_scales[..., c])
        v = values[..., None, c]
        total = total + _log_logistic_bin(
            (lower_edges[..., None, c] - mean) / scale,
            (upper_edges[..., None, c] - mean) / scale,
            v == 0,
            v == top,
        )
    return scipy.special.logsumexp(total, axis=-1)


def mixture_channel_cdf(loc, log_scale, num_levels):
    """CDF `[L]` of one discretized logistic channel: P(V <= v)."""
    top = num_levels - 1
    upper_edges = (2.0 * np.arange(num_levels) - num_levels + 2.0) / top
    cdf = scipy.stats.logistic.cdf((upper_edges - loc) / math.exp(log_scale))
    cdf[-1] = 1.0
    return cdf


def random_mixture_params(rng, batch_shape, num_components, num_channels, *,
                          loc_range=(-1.0, 1.0), log_scale_range=(-5.0, 2.0),
                          coefficient_range=(-1.0, 1.0), logit_scale=2.0):
    """Random parameters of a discretized logistic mixture, as NumPy."""
    batch_shape = tuple(batch_shape)
    k, c = num_components, num_channels
    params = dict(
        logits=logit_scale * rng.standard_normal(batch_shape + (k,)),
        locs=rng.uniform(*loc_range, size=batch_shape + (k, c)),
        log_scales=rng.uniform(*log_scale_range, size=batch_shape + (k, c)),
        coefficients=None,
    )
    if c > 1:
        params["coefficients"] = rng.uniform(
            *coefficient_range, size=batch_shape + (k, c * (c - 1) // 2)
        )
    return params


def make_mixture(params, num_levels=256, dtype=tf.float32, **kwargs):
    """A `DiscretizedLogisticMixture` of NumPy parameters."""
    from pixel_keras.distributions import DiscretizedLogisticMixture

    converted = {
        name: None if value is None else tf.constant(value, dtype)
        for name, value in params.items()
    }
    return DiscretizedLogisticMixture(num_levels=num_levels, **converted, **kwargs)


def all_pixel_values(num_levels, num_channels):
    """Every joint value of a pixel, `[L**C, C]`, the first channel slowest."""
    grid = itertools.product(range(num_levels), repeat=num_channels)
    return np.array(list(grid), np.float64)


def pmf_table(dist, num_levels, num_channels, dtype=tf.float32):
    """pmf of every joint value for every batch member: `[L**C, *batch]`."""
    values = all_pixel_values(num_levels, num_channels)
    batch_rank = len(dist.batch_shape)
    values = values.reshape((-1,) + (1,) * batch_rank + (num_channels,))
    log_probs = dist.log_prob(tf.constant(values, dtype)).numpy()
    with np.errstate(over="ignore"):  # a broken pmf may exceed 1 by far
        return np.exp(log_probs.astype(np.float64)), log_probs


def pooled_chi_square(observed, expected, min_expected=5.0):
    """Chi-square test with the cells of small expectation pooled together."""
    observed = np.asarray(observed, np.float64)
    expected = np.asarray(expected, np.float64)
    small = expected < min_expected
    obs = np.append(observed[~small], observed[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    if exp[-1] == 0.0:
        obs, exp = obs[:-1], exp[:-1]
    exp = exp * obs.sum() / exp.sum()
    return scipy.stats.chisquare(obs, exp)


# --- Data files ----------------------------------------------------------------


def example_counter(images, labels=None):
    """Multiset of examples, so splits can be compared regardless of order."""
    if labels is None:
        labels = [None] * len(images)
    return collections.Counter(
        (image.tobytes(), label) for image, label in zip(images, labels)
    )


def save_npz(tmp_path, file_name="data.npz", **arrays):
    path = tmp_path / file_name
    np.savez(path, **arrays)
    return str(path)


def random_images(shape, seed=0, high=256):
    return np.random.RandomState(seed).randint(0, high, size=shape).astype(np.uint8)


def write_png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.asarray(image, np.uint8)).numpy())


# --- Command-line configs ------------------------------------------------------


def run_config(workdir, **overrides):
    """`main.py`'s flags as a namespace, with no recipe flag set: the recipe
    (or the `--model`'s digits recipe) gives them unless overridden."""
    values = dict(
        workdir=str(workdir),
        recipe=None,
        data_dir=None,
        num_levels=None,
        num_filters=None,
        num_resnet=None,
        num_hierarchies=None,
        num_logistic_mix=None,
        dropout=None,
        num_layers=None,
        output_filters=None,
        class_conditional=False,
        seed=0,
        resume=False,
        checkpoint=None,
        num_samples=2,
        temperature=1.0,
        sampling_method="cached",
        output=None,
        strategy="auto",
        tpu=None,
        num_cpu_devices=None,
        backup_steps=None,
    )
    values.update(overrides)
    return types.SimpleNamespace(**values)


def tiny_run_config(workdir, **overrides):
    """`run_config` of a tiny PixelCNN++ on the digits, one epoch."""
    values = dict(
        model="pixel_cnn_pp",
        dataset="digits",
        preset="tiny",
        num_filters=8,
        num_resnet=1,
        num_logistic_mix=2,
        epochs=1,
        batch_size=64,
        learning_rate=2e-3,
        lr_decay=0.999995,
        num_samples=4,
    )
    values.update(overrides)
    return run_config(workdir, **values)


def export_config(workdir, **changes):
    """`main.py export`'s flags as a namespace."""
    values = dict(
        workdir=str(workdir), export_dir=None, model_name=None, version=None,
        checkpoint=None,
    )
    values.update(changes)
    return types.SimpleNamespace(**values)


# --- Export --------------------------------------------------------------------

EXPORT_FAMILIES = ("pixel_cnn_pp", "diagonal_bilstm", "pixel_cnn")


def export_model_of(family):
    """The small model of `family` that the export tests export."""
    from pixel_keras.models import PixelCNN
    from pixel_keras.models import PixelRNN

    keras.utils.set_random_seed(11)
    if family == "pixel_cnn_pp":
        return tiny_pixel_cnn_pp(image_shape=(6, 6, 1))
    if family == "diagonal_bilstm":
        return PixelRNN.from_preset(
            "tiny", kind="diagonal_bilstm", num_filters=6, num_layers=1,
            output_filters=8, image_shape=(4, 4, 1), num_classes=3,
        )
    return PixelCNN.from_preset(
        "tiny", num_filters=6, num_layers=1, output_filters=8, image_shape=(4, 4, 3)
    )


def base_inputs(model):
    """Three images' worth of every input a signature can take."""
    rng = np.random.default_rng(0)
    height, width, channels = model.image_shape
    images = rng.integers(0, model.num_levels, (3, height, width, channels)).astype(np.uint8)
    images[0, 0, 0, 0] = model.num_levels - 1
    # Non-zero means known: 1 and 255 alike; the last pixel is always drawn.
    known = rng.choice(np.array([0, 1, 255], np.uint8), size=(3, height, width))
    known[:, -1, -1] = 0
    inputs = {
        "seed": np.array([[1, 2], [3, 4], [5, 6]], np.int32),
        "temperature": np.array([0.5, 1.0, 2.0], np.float32),
        "images": images,
        "known_mask": known,
    }
    if model.num_classes is not None:
        inputs["condition"] = np.array([0, 2, 1], np.int32)
    return inputs


def signature_inputs(model, signature, inputs, rows=slice(None)):
    """The inputs of one serving signature, taken from `base_inputs`."""
    names = {
        "serving_default": ["seed"],
        "sample_with_temperature": ["seed", "temperature"],
        "log_prob": ["images"],
        "complete": ["images", "known_mask", "seed"],
    }[signature]
    if model.num_classes is not None:
        names = names + ["condition"]
    return {name: inputs[name][rows] for name in names}


def signature_calls(model):
    """Call id `<signature>--<tag>` -> inputs, sent to the loaded export."""
    from export import SIGNATURE_NAMES

    base = base_inputs(model)
    calls = {f"{s}--batch": signature_inputs(model, s, base) for s in SIGNATURE_NAMES}
    # The seed rows [3, 4] and [5, 6] again, in other batches.
    other = dict(base, seed=np.array([[7, 8], [3, 4]], np.int32))
    if "condition" in base:
        other["condition"] = np.array([1, 2], np.int32)
    calls["serving_default--other"] = signature_inputs(model, "serving_default", other)
    calls["serving_default--single"] = signature_inputs(
        model, "serving_default", base, slice(2, 3)
    )
    calls["sample_with_temperature--single"] = signature_inputs(
        model, "sample_with_temperature", dict(base, temperature=np.ones(3, np.float32)),
        slice(1, 2),
    )
    calls["complete--single"] = signature_inputs(model, "complete", base, slice(2, 3))
    return calls


# Runs with keras, tf_keras, pixel_keras and export made uninstallable, as on
# a serving host (TensorFlow itself imports keras when it can).
LOAD_AND_CALL_WITHOUT_KERAS = r'''
import importlib.abc
import importlib.machinery
import json
import sys

ABSENT = ("keras", "tf_keras", "pixel_keras", "export")


class NotInstalled(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ABSENT:
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ImportError(f"{module.__name__} is not installed here")


sys.meta_path.insert(0, NotInstalled())

import numpy as np
import tensorflow as tf

for version_dir, requests_path, results_path in json.loads(sys.argv[1]):
    loaded = tf.saved_model.load(version_dir)
    requests = np.load(requests_path)
    calls = {}
    for key in requests.files:
        call, name = key.rsplit("--", 1)
        calls.setdefault(call, {})[name] = tf.constant(requests[key])
    results = {"signatures": np.array(sorted(loaded.signatures))}
    for call, inputs in calls.items():
        outputs = loaded.signatures[call.split("--")[0]](**inputs)
        for name, value in outputs.items():
            results[f"{call}--{name}"] = value.numpy()
    np.savez(results_path, **results)

imported = sorted(m for m in sys.modules if m.partition(".")[0] in ABSENT)
assert "pixel_keras" not in sys.modules and "keras" not in sys.modules, imported
assert not imported, imported
print("loaded without", ", ".join(ABSENT))
'''


def call_signature(loaded_model, signature, inputs):
    """Calls a loaded signature on NumPy inputs; its outputs as NumPy."""
    outputs = loaded_model.signatures[signature](
        **{name: tf.constant(value) for name, value in inputs.items()}
    )
    return {name: value.numpy() for name, value in outputs.items()}


def assert_same_outputs(actual, expected):
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def expected_signatures(model):
    """signature -> {"inputs"/"outputs": {name: (dtype, shape with None batch)}}."""
    height, width, channels = model.image_shape
    images = (tf.uint8, [None, height, width, channels])
    seed = (tf.int32, [None, 2])
    label = {"condition": (tf.int32, [None])} if model.num_classes is not None else {}
    return {
        "serving_default": {"inputs": {"seed": seed, **label}, "outputs": {"images": images}},
        "sample_with_temperature": {
            "inputs": {"seed": seed, "temperature": (tf.float32, [None]), **label},
            "outputs": {"images": images},
        },
        "log_prob": {
            "inputs": {"images": images, **label},
            "outputs": {
                "log_prob_nats": (tf.float32, [None]),
                "bits_per_dim": (tf.float32, [None]),
            },
        },
        "complete": {
            "inputs": {
                "images": images,
                "known_mask": (tf.uint8, [None, height, width]),
                "seed": seed,
                **label,
            },
            "outputs": {"images": images},
        },
    }


def signature_request(model, signature, **changes):
    """Two images' inputs of one signature, with some replaced."""
    inputs = signature_inputs(model, signature, base_inputs(model), slice(0, 2))
    inputs.update(changes)
    return inputs


def call_refused(loaded_model, signature, inputs, error=Exception):
    """Calls a loaded signature that must raise `error`; the message."""
    import pytest

    with pytest.raises(error) as info:
        call_signature(loaded_model, signature, inputs)
    return str(info.value)


def folder_files(folder):
    """Relative path -> bytes of every file under `folder`."""
    result = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as f:
                result[os.path.relpath(path, folder)] = f.read()
    return result


# --- Training ------------------------------------------------------------------


def optimizer_averages(model):
    """The optimizer's EMA values, in the order of the model's trainable
    weights (Keras keeps them in private attributes)."""
    optimizer = model.optimizer
    return [
        optimizer._model_variables_moving_average[optimizer._get_variable_index(v)].numpy()
        for v in model.trainable_variables
    ]


def trainable_values(model):
    """The model's trainable weights, as NumPy."""
    return [v.numpy() for v in model.trainable_variables]


def assert_all_equal(actual, expected):
    assert len(actual) == len(expected)
    for a, b in zip(actual, expected):
        np.testing.assert_array_equal(a, b)


def any_differ(first, second):
    return any(not np.array_equal(a, b) for a, b in zip(first, second))


# --- Graph audit ---------------------------------------------------------------
#
# TensorFlow 2.21's oneDNN batched matmul with a broadcast batch corrupts the
# heap on AVX-512 CPUs (tensorflow#117700; see BUILD.md). This finds such
# matmuls in a graph on any machine, before they run.

BATCH_MATMULS = ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")


def _called_functions(op):
    """The names of the functions an op calls (while bodies, calls, conds)."""
    for attr in op.node_def.attr.values():
        if attr.HasField("func"):
            yield attr.func.name
        yield from (function.name for function in attr.list.func)


def _batch_shapes_differ(left, right):
    """True unless two operand shapes provably have the same batch shape.

    Two unknown dimensions count as equal (a traced unknown batch); an
    unknown rank, or a known dimension against an unknown one, does not.
    """
    if left.rank is None or right.rank is None:
        return True
    return left.as_list()[:-2] != right.as_list()[:-2]


def broadcasting_matmuls(graph, name=None, seen=None):
    """Every broadcasting batched matmul or einsum in `graph` and in every
    function it calls, as readable strings naming the function and shapes."""
    name = name or graph.name
    seen = set() if seen is None else seen
    found = []
    for op in graph.get_operations():
        if op.type in BATCH_MATMULS:
            left, right = (tensor.shape for tensor in op.inputs[:2])
            if _batch_shapes_differ(left, right):
                found.append(f"{name}: {op.type} {op.name} {left} x {right}")
        elif op.type == "Einsum" and "..." in op.get_attr("equation").decode():
            shapes = " x ".join(str(tensor.shape) for tensor in op.inputs)
            equation = op.get_attr("equation").decode()
            found.append(f"{name}: Einsum {op.name} '{equation}' {shapes}")
        for function_name in _called_functions(op):
            if function_name in seen:
                continue
            seen.add(function_name)
            # TensorFlow has no public lookup of a function by name; this
            # one also finds the functions of enclosing graphs.
            function = graph._get_function(function_name)
            assert function is not None and function.graph is not None, function_name
            found += broadcasting_matmuls(function.graph, function_name, seen)
    return found
