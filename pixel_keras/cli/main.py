"""pixel-keras: train, eval, sample, complete, export, compress and
decompress with pixel_keras models.

    pixel-keras                         # train the tiny PixelCNN++ on the digits
    pixel-keras train --model=diagonal_bilstm --workdir=runs/bilstm
    pixel-keras train --recipe=pixel_cnn_pp/cifar10 --workdir=runs/cifar10
    pixel-keras train --dataset=mnist --preset=mnist --workdir=runs/mnist
    pixel-keras eval --workdir=runs/mnist
    pixel-keras sample --workdir=runs/mnist --num_samples=16
    pixel-keras complete --workdir=runs/mnist
    pixel-keras export --workdir=runs/mnist --export_dir=/models
    pixel-keras compress --workdir=runs/mnist --input=mnist:test --output=test.pxkc
    pixel-keras decompress --workdir=runs/mnist --input=test.pxkc --output=test.npz

Commands: train (the default), eval, sample, complete, export, compress,
decompress. Everything a run writes goes to --workdir: checkpoints/, logs/
(TensorBoard), samples.png, metrics.json, and for `eval` nll_heatmap.png and
eval_metrics.json (written over only with --overwrite); `export` writes a TF
Serving model version to --export_dir/<model_name>/<version>/. `compress`
codes --input's images (a .npz, a folder of images or <dataset>:<split>)
losslessly into the file --output; `decompress` decodes it into a .npz or a
folder of PNGs. --helpfull lists every flag.
"""

import os
import sys

from absl import app

from pixel_keras.cli import flags

COMMANDS = ("train", "eval", "sample", "complete", "export", "compress", "decompress")


def main(argv):
    """Runs the command `argv` names (train when it names none).

    Args:
        argv: the arguments absl leaves once the flags are parsed: the
            program, then at most one command out of `COMMANDS`.

    Raises:
        app.UsageError: for another command, or more than one.
    """
    if len(argv) > 2 or (len(argv) == 2 and argv[1] not in COMMANDS):
        raise app.UsageError(
            f"Expected one command out of {', '.join(COMMANDS)} (default train). "
            f"Received: {' '.join(argv[1:])}"
        )
    # Imported once the flags are parsed, so that `--help` and flag errors
    # answer without loading TensorFlow.
    from pixel_keras.cli import commands

    commands.run(argv[1] if len(argv) == 2 else "train", flags.FLAGS)


def run():
    """The `pixel-keras` console script, and `python main.py` in a checkout:
    parses the flags and runs the command."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # absl's `--help` prints the docstring of `__main__`: the script pip
    # writes for `pixel-keras` has none, `main.py` has its own.
    program = sys.modules["__main__"]
    if not program.__doc__:
        program.__doc__ = __doc__
    app.run(main)
