"""No matmul of the package broadcasts its batch dimensions.

TensorFlow 2.21's oneDNN batched matmul with a broadcast batch (a left
operand such as `(8, 1, 4, 18)` against a right one of `(1, 18, 6)`) reads
past its buffer on AVX-512 CPUs and corrupts the heap: the process aborts
with `free(): invalid size` or a segmentation fault, some calls later
(tensorflow#117700, #123109; no released TensorFlow has the fix). Other CPUs
run the same graph without a sign, so the rule is checked on the graph, where
it fails on every machine: every function the package traces (samplers,
teacher-forced logits, `log_prob`, the train step, the export's signatures),
walked with every function it calls, must have no `BatchMatMul*` whose
operands' batch shapes differ, and no `Einsum` that can broadcast. An einsum
lowers to one batched matmul whose batch is the labels that both operands
and the output share, equal in size on both sides (seen with
`ONEDNN_VERBOSE=1`); only an ellipsis broadcasts, so an equation with `...`
fails.

A second test samples for real at the shapes that crashed.
"""

import signal
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from pixel_keras import sampling
from pixel_keras.models.gated_pixel_cnn import cached_sampler as cached_gated_pixel_cnn
from pixel_keras.models.pixel_cnn import cached_sampler as cached_pixel_cnn
from pixel_keras.models.pixel_cnn_pp import cached_sampler as cached_pixel_cnn_pp
from pixel_keras.models.pixel_rnn import diagonal_bilstm_sampler as cached_diagonal_bilstm
from pixel_keras.models.pixel_rnn import row_lstm_sampler as cached_row_lstm
from pixel_keras.models import GatedPixelCNN
from pixel_keras.models import PixelCNN
from pixel_keras.models import PixelCNNPlusPlus
from pixel_keras.models import PixelRNN
from pixel_keras.serving import serving_functions
from pixel_keras.training import make_optimizer
from tests import helpers

_RNN = dict(num_filters=6, output_filters=8, image_shape=(5, 8, 1))
# Small models of every family, `num_layers=1` among them: name -> (class,
# preset overrides of the `tiny` preset).
CONFIGS = {
    "pixel_cnn_pp": (
        PixelCNNPlusPlus,
        dict(num_filters=8, num_logistic_mix=2, image_shape=(4, 4, 3)),
    ),
    "pixel_cnn_pp-1-level-labels": (
        PixelCNNPlusPlus,
        dict(
            num_filters=8, num_logistic_mix=2, num_hierarchies=1,
            image_shape=(4, 6, 1), num_classes=3,
        ),
    ),
    "pixel_cnn-1-layer": (PixelCNN, dict(num_layers=1, **_RNN)),
    "pixel_cnn-2-layers-rgb-condition": (
        PixelCNN,
        dict(
            num_layers=2, num_filters=6, output_filters=9,
            image_shape=(4, 5, 3), conditional_shape=(2,),
        ),
    ),
    "row_lstm-1-layer": (PixelRNN, dict(kind="row_lstm", num_layers=1, **_RNN)),
    "row_lstm-2-layers-labels": (
        PixelRNN,
        dict(kind="row_lstm", num_layers=2, num_classes=3, **_RNN),
    ),
    "diagonal_bilstm-1-layer": (
        PixelRNN,
        dict(kind="diagonal_bilstm", num_layers=1, **_RNN),
    ),
    "diagonal_bilstm-2-layers-rgb": (
        PixelRNN,
        dict(
            kind="diagonal_bilstm", num_layers=2, num_filters=6,
            output_filters=9, image_shape=(4, 4, 3),
        ),
    ),
    "gated_pixel_cnn-1-layer": (GatedPixelCNN, dict(num_layers=1, **_RNN)),
    "gated_pixel_cnn-2-layers-rgb-labels": (
        GatedPixelCNN,
        dict(
            num_layers=2, num_filters=6, output_filters=9, kernel_size=5,
            image_shape=(4, 5, 3), num_classes=3,
        ),
    ),
}


@pytest.fixture(scope="module")
def compiled_models():
    """name -> the model of `CONFIGS`, compiled, with its optimizer built."""
    helpers.set_random_seed(3)
    models = {}
    for name, (model_class, overrides) in CONFIGS.items():
        model = model_class.from_preset("tiny", **overrides)
        model.compile(optimizer=make_optimizer(1e-3))  # builds the optimizer
        models[name] = model
    return models


def _conditioning_spec(model, batch):
    if model.num_classes is not None:
        return tf.TensorSpec([batch], tf.int32)
    if model.conditional_shape is not None:
        return tf.TensorSpec([batch, *model.conditional_shape], tf.float32)
    return None


def _image_spec(model, batch):
    return tf.TensorSpec([batch, *model.image_shape], tf.float32)


def _traced_functions(model, batch):
    """name -> concrete function, for everything the package traces."""
    conditioning = _conditioning_spec(model, batch)
    images = _image_spec(model, batch)
    known = tf.TensorSpec([batch, *model.image_shape[:2]], tf.bool)
    seeds = tf.TensorSpec([batch, 2], tf.int32)
    temperature = tf.TensorSpec([batch], tf.float32)
    functions = {}
    for method in sampling.METHODS:
        draw = tf.function(
            lambda images, known, seeds, conditioning, temperature, method=method: (
                sampling.draw(model, images, known, seeds, conditioning, temperature, method)
            )
        )
        functions[f"sampler {method}"] = draw.get_concrete_function(
            images, known, seeds, conditioning, temperature
        )
    if isinstance(model, PixelCNNPlusPlus):
        teacher_forced = cached_pixel_cnn_pp.outputs
    elif isinstance(model, GatedPixelCNN):
        teacher_forced = cached_gated_pixel_cnn.cached_logits
    elif isinstance(model, PixelCNN):
        teacher_forced = cached_pixel_cnn.cached_logits
    elif model.kind == "row_lstm":
        teacher_forced = cached_row_lstm.cached_logits
    else:
        teacher_forced = cached_diagonal_bilstm.cached_logits
    functions["teacher-forced"] = tf.function(
        lambda images, conditioning: teacher_forced(model, images, conditioning)
    ).get_concrete_function(images, conditioning)
    functions["logits"] = tf.function(
        lambda images, conditioning: model(model.make_inputs(images, conditioning))
    ).get_concrete_function(images, conditioning)
    log_prob_kwargs = {}
    if conditioning is not None:
        log_prob_kwargs["condition"] = conditioning
    functions["log_prob"] = tf.function(model.log_prob).get_concrete_function(
        images, **log_prob_kwargs
    )
    batch_spec = images
    if log_prob_kwargs:
        # The training batch of a conditioned model: `{"images", "condition"}`,
        # the model's own inputs.
        batch_spec = {"images": images, **log_prob_kwargs}
    functions["train_step"] = tf.function(model.train_step).get_concrete_function(
        batch_spec
    )
    if batch is None:
        # The export's signatures take any batch: traced once, here.
        for name, (function, signature) in serving_functions(model).items():
            functions[f"export {name}"] = tf.function(
                function, input_signature=signature
            ).get_concrete_function()
    return functions


def _case(name, batch):
    # The PixelRNN paper's models with two layers, labels, conditions and RGB
    # run with the slow tests (CI runs both); their one-layer cases, the
    # shapes that crashed, run every time. So do PixelCNN++'s batch-1 cases
    # (10-28 s of tracing each): its unknown batch, which the export's
    # signatures add to, runs every time.
    slow = "-2-layers" in name or (name.startswith("pixel_cnn_pp") and batch == 1)
    marks = [pytest.mark.slow] if slow else []
    return pytest.param(name, batch, id=f"{name}-batch{batch or '?'}", marks=marks)


# Batch 1 and an unknown batch (the export's) for every model; batch 4 too
# for the one-layer models, whose row matmuls crashed as (W, 1, 4, K).
CASES = [_case(name, batch) for name in CONFIGS for batch in (1, None)] + [
    _case(name, 4) for name in CONFIGS if name.endswith("-1-layer")
]


@pytest.mark.parametrize("family, batch", CASES)
def test_no_traced_function_broadcasts_a_batched_matmul(compiled_models, family, batch):
    model = compiled_models[family]
    functions = _traced_functions(model, batch)
    found = []
    for name, function in functions.items():
        found += [
            f"{name} -> {line}" for line in helpers.broadcasting_matmuls(function.graph)
        ]
    assert not found, (
        "Broadcasting batched matmuls reach oneDNN's heap-corrupting kernel "
        "(tensorflow#117700); reshape to a 2-D matmul or give both operands "
        "the same batch shape:\n" + "\n".join(found)
    )


def test_the_walk_finds_a_broadcasting_matmul_in_a_nested_loop():
    @tf.function
    def inner(left, right):
        return tf.while_loop(
            lambda i, total: i < 2,
            lambda i, total: (i + 1, total + tf.reduce_sum(tf.matmul(left, right))),
            (0, 0.0),
        )

    @tf.function
    def outer(left, right, equal):
        return (
            inner(left, right),
            tf.matmul(equal, right),
            tf.einsum("wnbk,nkf->wnbf", left, right),
            tf.einsum("...k,kf->...f", equal, right[0]),
        )

    graph = outer.get_concrete_function(
        tf.TensorSpec([None, 1, 4, 18]),
        tf.TensorSpec([1, 18, 6]),
        tf.TensorSpec([1, 4, 18]),
    ).graph
    found = helpers.broadcasting_matmuls(graph)
    assert len(found) == 2, found
    assert "(None, 1, 4, 18) x (1, 18, 6)" in found[0] and "while_body" in found[0]
    assert "Einsum" in found[1] and "'...k,kf->...f'" in found[1]


_SAMPLE_AT_THE_CRASHING_SHAPES = textwrap.dedent(
    """
    import keras
    from pixel_keras.models import PixelCNN, PixelRNN

    keras.utils.set_random_seed(0)
    # The width-8 rows of one 6-unit layer in a batch of 4: the cached
    # sampler's row matmul was (8, 1, 4, 18) x (1, 18, 6).
    rnn = dict(num_layers=1, num_filters=6, output_filters=8, image_shape=(8, 8, 1))
    models = [
        PixelCNN.from_preset("tiny", **rnn),
        PixelRNN.from_preset("tiny", kind="row_lstm", **rnn),
        PixelRNN.from_preset("tiny", kind="diagonal_bilstm", **rnn),
    ]
    for model in models:
        for seed in range(12):
            for num in (4, 1):
                model.sample(num, seed=seed)
    print("sampled")
    """
)


@pytest.mark.slow  # a subprocess that samples: about 15 s
def test_sampling_at_the_shapes_that_corrupted_the_heap_runs_to_the_end():
    # A subprocess: a corrupted heap aborts the whole interpreter.
    run = subprocess.run(
        [sys.executable, "-c", _SAMPLE_AT_THE_CRASHING_SHAPES],
        cwd=helpers.ROOT,
        env=helpers.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    ended = f"exit code {run.returncode}"
    if run.returncode < 0:
        ended = f"killed by {signal.Signals(-run.returncode).name}"
    assert run.returncode == 0 and "sampled" in run.stdout, (
        f"sampling {ended}:\n{run.stderr[-3000:]}"
    )
