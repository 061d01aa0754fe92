"""pixel_keras command line: train, eval, sample and complete.

    python main.py                      # train the tiny PixelCNN++ on the digits
    python main.py train --model=diagonal_bilstm --workdir=runs/bilstm
    python main.py train --recipe=pixel_cnn_pp/cifar10 --workdir=runs/cifar10
    python main.py train --dataset=mnist --preset=mnist --workdir=runs/mnist
    python main.py eval --workdir=runs/mnist
    python main.py sample --workdir=runs/mnist --num_samples=16
    python main.py complete --workdir=runs/mnist
    python main.py export --workdir=runs/mnist --export_dir=/models

Everything a run writes goes to --workdir: checkpoints/, logs/ (TensorBoard),
samples.png, metrics.json, and for `eval` nll_heatmap.png and
eval_metrics.json (written over only with --overwrite); `export` writes a
TF Serving model version to --export_dir/<model_name>/<version>/.
"""

import os

from absl import app

from cli import flags

COMMANDS = ("train", "eval", "sample", "complete", "export")


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1] not in COMMANDS):
        raise app.UsageError(
            f"Expected one command out of {', '.join(COMMANDS)} (default train). "
            f"Received: {' '.join(argv[1:])}"
        )
    # Imported once the flags are parsed, so that `--help` and flag errors
    # answer without loading TensorFlow.
    from cli import commands

    commands.run(argv[1] if len(argv) == 2 else "train", flags.FLAGS)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    app.run(main)
