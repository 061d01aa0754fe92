"""DiscretizedLogisticMixture: its arguments are checked, and its values
under `validate_args` only.
"""

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras.distributions import DiscretizedLogisticMixture


# --------------------------------------------------------------------------
# Argument checks.
# --------------------------------------------------------------------------


def small_params(k=2, c=3):
    return dict(logits=tf.zeros([k]), locs=tf.zeros([k, c]),
                log_scales=tf.zeros([k, c]),
                coefficients=tf.zeros([k, c * (c - 1) // 2]) if c > 1 else None)


@pytest.mark.parametrize("num_levels", [0, 1, 257, 1000, -5, 3.0, 256.0, True, "256", None])
def test_bad_num_levels_raise(num_levels):
    with pytest.raises(ValueError, match="num_levels"):
        DiscretizedLogisticMixture(**small_params(), num_levels=num_levels)


@pytest.mark.parametrize("num_levels", [2, 3, 256])
def test_good_num_levels_are_accepted(num_levels):
    dist = DiscretizedLogisticMixture(**small_params(), num_levels=num_levels)
    assert dist.num_levels == num_levels


@pytest.mark.parametrize(
    "name, shape",
    [("logits", [3]), ("log_scales", [2, 2]), ("log_scales", [3, 3]),
     ("coefficients", [2, 2]), ("coefficients", [3, 3])],
)
def test_mismatched_shapes_raise(name, shape):
    params = small_params()
    params[name] = tf.zeros(shape)
    with pytest.raises(ValueError, match=name):
        DiscretizedLogisticMixture(**params)


def test_rank_deficient_locs_raise():
    with pytest.raises(ValueError, match="locs"):
        DiscretizedLogisticMixture(tf.zeros([2]), tf.zeros([2]), tf.zeros([2]))


@pytest.mark.parametrize("name", ["logits", "locs", "log_scales", "coefficients"])
def test_integer_parameters_raise_type_error(name):
    params = small_params()
    params[name] = tf.cast(params[name], tf.int32)
    with pytest.raises(TypeError, match=name):
        DiscretizedLogisticMixture(**params)


def test_mixed_float_dtypes_raise_type_error():
    params = small_params()
    params["log_scales"] = tf.zeros([2, 3], tf.float64)
    with pytest.raises(TypeError, match="log_scales"):
        DiscretizedLogisticMixture(**params)


@pytest.mark.parametrize(
    "values", [[0.5, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 256.0], [3.0, 2.0, 1e6]]
)
def test_validate_args_rejects_bad_values(values):
    strict = DiscretizedLogisticMixture(**small_params(), validate_args=True)
    with pytest.raises(tf.errors.InvalidArgumentError):
        strict.log_prob(values)
    lenient = DiscretizedLogisticMixture(**small_params())
    assert lenient.log_prob(values).shape == ()


def test_validate_args_accepts_valid_values_and_respects_num_levels():
    strict = DiscretizedLogisticMixture(**small_params(), num_levels=4,
                                        validate_args=True)
    assert np.isfinite(strict.log_prob([0.0, 3.0, 2.0]).numpy())
    with pytest.raises(tf.errors.InvalidArgumentError):
        strict.log_prob([0.0, 4.0, 2.0])


@pytest.mark.parametrize("validate_args", [False, True])
def test_assertions_only_with_validate_args(validate_args):
    @tf.function
    def log_prob(values):
        dist = DiscretizedLogisticMixture(**small_params(),
                                          validate_args=validate_args)
        return dist.log_prob(values)

    graph = log_prob.get_concrete_function(
        tf.TensorSpec([None, 3], tf.float32)
    ).graph
    # In a graph, tf.debugging assertions are Assert ops inside If branches.
    assertion_types = {"Assert", "If", "StatelessIf"}
    found = [op for op in graph.get_operations() if op.type in assertion_types]
    assert bool(found) == validate_args
    bad = tf.constant([[0.5, 0.0, 300.0]])
    if validate_args:
        with pytest.raises(tf.errors.InvalidArgumentError):
            log_prob(bad)
    else:
        assert np.isfinite(log_prob(bad).numpy()).all()


def test_validate_args_rejects_non_finite_parameters():
    params = small_params()
    params["locs"] = tf.constant([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="locs"):
        DiscretizedLogisticMixture(**params, validate_args=True)
    DiscretizedLogisticMixture(**params)  # no check without validate_args


# --------------------------------------------------------------------------
# Batch shapes: all axes before K (`logits` [..., K], the others [..., K, *]).
# --------------------------------------------------------------------------


def batch_params(logits_batch, other_batch, k=5, c=3):
    return dict(
        logits=tf.zeros([*logits_batch, k]),
        locs=tf.zeros([*other_batch, k, c]),
        log_scales=tf.zeros([*other_batch, k, c]),
        coefficients=tf.zeros([*other_batch, k, c * (c - 1) // 2]),
    )


def test_batch_shapes_that_disagree_raise_at_construction():
    # K (5) and C (3) agree; the batch shapes [3] and [2] do not broadcast.
    with pytest.raises(
        ValueError,
        match=r"Expected the parameters' batch shapes \(the axes before K of `logits` "
        r"\[\.\.\., K\], and before K of `locs`, `log_scales` and `coefficients` "
        r"\[\.\.\., K, C\]\) to be equal or to broadcast against each other\. "
        r"Received: logits\.shape=\(3, 5\) \(batch shape \(3,\)\), "
        r"locs\.shape=\(2, 5, 3\) \(batch shape \(2,\)\), "
        r"log_scales\.shape=\(2, 5, 3\) \(batch shape \(2,\)\), "
        r"coefficients\.shape=\(2, 5, 3\) \(batch shape \(2,\)\)",
    ):
        DiscretizedLogisticMixture(**batch_params([3], [2]))
    params = batch_params([2, 4], [2, 4])
    params["log_scales"] = tf.zeros([2, 3, 5, 3])
    with pytest.raises(ValueError, match=r"log_scales\.shape=\(2, 3, 5, 3\)"):
        DiscretizedLogisticMixture(**params)


@pytest.mark.parametrize(
    "logits_batch, other_batch, batch_shape",
    [([2], [2], [2]), ([1], [2], [2]), ([], [2, 4], [2, 4]), ([3, 1], [4], [3, 4])],
)
def test_batch_shapes_that_broadcast_are_accepted(logits_batch, other_batch, batch_shape):
    dist = DiscretizedLogisticMixture(**batch_params(logits_batch, other_batch))
    assert dist.batch_shape == batch_shape
    assert dist.log_prob(tf.zeros([3])).shape == batch_shape


@pytest.mark.parametrize("validate_args", [False, True])
def test_batch_shapes_known_at_run_time_are_asserted_under_validate_args(validate_args):
    @tf.function(
        input_signature=[tf.TensorSpec([None, 5]), tf.TensorSpec([None, 5, 3])]
    )
    def log_prob(logits, locs):
        dist = DiscretizedLogisticMixture(
            logits, locs, locs, locs, validate_args=validate_args
        )
        return dist.log_prob(tf.zeros([3]))

    assert log_prob(tf.zeros([1, 5]), tf.zeros([2, 5, 3])).shape == (2,)
    # With validate_args the assertion names the parameters and their shapes;
    # without, an op fails later (TFP's way: run-time checks only when asked).
    match = (
        r"batch shapes .* to be equal or to broadcast against each other\. Received:\] "
        r"\[logits\.shape =\] \[3 5\] \[locs\.shape =\] \[2 5 3\]"
        if validate_args
        else None
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        log_prob(tf.zeros([3, 5]), tf.zeros([2, 5, 3]))
