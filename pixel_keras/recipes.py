"""Training recipes: a model, its data and how to train it, as plain data.

A recipe names a model (`model`, `preset`, and for PixelCNN++ `weight_norm`),
its data (`dataset`) and its training (`batch_size`, `epochs`, `optimizer`,
`learning_rate`, `lr_decay` per step, `ema_momentum`, and
`optimizer_options` for the optimizer's own arguments). Every key but
`optimizer_options` is also a flag of `main.py train` of the same name; a
flag that is given replaces the recipe's value (`--optimizer` drops the
recipe's `optimizer_options`, which belong to its optimizer).

`<model>/cifar10` and `<model>/binarized_mnist` follow the papers where they
say something:

- PixelCNN++ (Salimans et al., 2017; the openai/pixel-cnn code): Adam, lr
  1e-3 decayed x0.999995 per step, beta_1 0.95, beta_2 0.9995, Polyak (EMA)
  weights of momentum 0.9995 for evaluation and sampling, dropout 0.5 (the
  `cifar10` preset), weight normalization with data-dependent init. The
  paper trains on 8 GPUs with 16 images each, gradients summed: a global
  batch of 128, which is this recipe's `batch_size` (global: split across
  the replicas of `--strategy`, so 8 GPUs get 16 each, as in the paper). The
  paper gives no epoch count (the code runs until stopped).
- The PixelRNN paper (van den Oord et al., 2016): RMSProp ("best
  convergence" of the rules tried), batches of 16 images for MNIST and
  CIFAR-10. Its learning rates were "set manually" and are not given: 1e-3,
  constant (Keras' default for RMSProp), is our choice; on the digits
  (`row_lstm`, tiny preset, batch 32, 10 epochs) it reached 2.13 test
  bits/dim where 1e-4 reached 2.47. No EMA, no weight normalization (neither is in the
  paper).
- Epoch counts are our choice too, not a reproduction of the papers'
  training time.

`<model>/digits` are the embedded 8x8 digits at CI size: what `main.py`
trains when given no recipe (the `--model`'s digits recipe). They keep
`main.py`'s previous defaults (Adam at 2e-3, batch 32, 30 epochs);
PixelCNN++'s adds EMA weights of momentum 0.99, which took the default run
from 1.743 to 1.720 test bits/dim (the same training: EMA changes only the
weights evaluated; 0.995 gave 1.722) for 5-10% more CPU time, the average's
update after every step. Weight normalization gave 1.768 there, so it stays
off.
"""

import copy

# PixelCNN++'s optimizer, as in the paper.
_PIXEL_CNN_PP_TRAINING = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "lr_decay": 0.999995,
    "optimizer_options": {"beta_1": 0.95, "beta_2": 0.9995},
    "ema_momentum": 0.9995,
}

# The PixelRNN paper's optimizer (its learning rate is ours, see above).
_PIXEL_RNN_PAPER_TRAINING = {
    "optimizer": "rmsprop",
    "learning_rate": 1e-3,
    "lr_decay": 1.0,
    "optimizer_options": {},
    "ema_momentum": None,
}

# The embedded digits: 1,500 training images of 8x8 with 17 levels.
_DIGITS_TRAINING = {
    "dataset": "digits",
    "preset": "tiny",
    "batch_size": 32,
    "epochs": 30,
    "optimizer": "adam",
    "learning_rate": 2e-3,
    "lr_decay": 0.999995,
    "optimizer_options": {"beta_1": 0.95, "beta_2": 0.9995},
    "ema_momentum": None,
}

# The PixelRNN paper's models on its datasets (the `kind` is the model's).
_PIXEL_RNN_PAPER_CIFAR10 = {
    "preset": "cifar10",
    "dataset": "cifar10",
    "batch_size": 16,
    "epochs": 100,
    **_PIXEL_RNN_PAPER_TRAINING,
}
_PIXEL_RNN_PAPER_BINARIZED_MNIST = {
    "preset": "binarized_mnist",
    "dataset": "binarized_mnist",
    "batch_size": 16,
    "epochs": 100,
    **_PIXEL_RNN_PAPER_TRAINING,
}

RECIPES = {
    "pixel_cnn_pp/cifar10": {
        "model": "pixel_cnn_pp",
        "preset": "cifar10",
        "dataset": "cifar10",
        "weight_norm": True,
        "batch_size": 128,
        "epochs": 500,
        **_PIXEL_CNN_PP_TRAINING,
    },
    # Not in the paper: PixelCNN++'s own training on binarized MNIST with
    # the 28x28 preset (2 levels come from the data).
    "pixel_cnn_pp/binarized_mnist": {
        "model": "pixel_cnn_pp",
        "preset": "mnist",
        "dataset": "binarized_mnist",
        "weight_norm": True,
        "batch_size": 16,
        "epochs": 100,
        **_PIXEL_CNN_PP_TRAINING,
    },
    "pixel_cnn_pp/digits": {
        "model": "pixel_cnn_pp",
        "weight_norm": False,
        **_DIGITS_TRAINING,
        # About 2 epochs (100 steps) of averaging over 30 epochs; the
        # paper's 0.9995 would average over more steps than the run has.
        "ema_momentum": 0.99,
    },
    "pixel_cnn/cifar10": {"model": "pixel_cnn", **_PIXEL_RNN_PAPER_CIFAR10},
    "pixel_cnn/binarized_mnist": {"model": "pixel_cnn", **_PIXEL_RNN_PAPER_BINARIZED_MNIST},
    "pixel_cnn/digits": {"model": "pixel_cnn", **_DIGITS_TRAINING},
    "row_lstm/cifar10": {"model": "row_lstm", **_PIXEL_RNN_PAPER_CIFAR10},
    "row_lstm/binarized_mnist": {"model": "row_lstm", **_PIXEL_RNN_PAPER_BINARIZED_MNIST},
    "row_lstm/digits": {"model": "row_lstm", **_DIGITS_TRAINING},
    "diagonal_bilstm/cifar10": {"model": "diagonal_bilstm", **_PIXEL_RNN_PAPER_CIFAR10},
    "diagonal_bilstm/binarized_mnist": {
        "model": "diagonal_bilstm",
        **_PIXEL_RNN_PAPER_BINARIZED_MNIST,
    },
    "diagonal_bilstm/digits": {"model": "diagonal_bilstm", **_DIGITS_TRAINING},
    # The Gated PixelCNN paper gives no optimizer; the digits get the same
    # Adam as the other families.
    "gated_pixel_cnn/digits": {"model": "gated_pixel_cnn", **_DIGITS_TRAINING},
    # PixelSNAIL (Chen et al., 2018) trains with PixelCNN++'s Adam and
    # Polyak averaging (SPEC section 8); the batch is ours (the paper's
    # runs used several GPUs).
    "pixel_snail/cifar10": {
        "model": "pixel_snail",
        "preset": "cifar10",
        "dataset": "cifar10",
        "batch_size": 64,
        "epochs": 500,
        **_PIXEL_CNN_PP_TRAINING,
    },
    "pixel_snail/digits": {"model": "pixel_snail", **_DIGITS_TRAINING, "ema_momentum": 0.99},
}


def get(name):
    """A copy of the recipe `name`.

    Raises:
        ValueError: for an unknown name; the message lists the recipes.
    """
    if name not in RECIPES:
        raise ValueError(
            f"Unknown recipe {name!r}. Expected one of: {', '.join(sorted(RECIPES))}."
        )
    return copy.deepcopy(RECIPES[name])


def default_name(model):
    """The recipe of a run that names none: the model's digits recipe."""
    return f"{model}/digits"
