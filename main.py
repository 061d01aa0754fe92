"""pixel_keras command line: train, eval, sample, complete, export, compress
and decompress.

    python main.py                      # train the tiny PixelCNN++ on the digits
    python main.py train --model=diagonal_bilstm --workdir=runs/bilstm
    python main.py train --recipe=pixel_cnn_pp/cifar10 --workdir=runs/cifar10
    python main.py train --dataset=mnist --preset=mnist --workdir=runs/mnist
    python main.py eval --workdir=runs/mnist
    python main.py sample --workdir=runs/mnist --num_samples=16
    python main.py complete --workdir=runs/mnist
    python main.py export --workdir=runs/mnist --export_dir=/models
    python main.py compress --workdir=runs/mnist --input=mnist:test --output=test.pxkc
    python main.py decompress --workdir=runs/mnist --input=test.pxkc --output=test.npz

Everything a run writes goes to --workdir: checkpoints/, logs/ (TensorBoard),
samples.png, metrics.json, and for `eval` nll_heatmap.png and
eval_metrics.json (written over only with --overwrite); `export` writes a
TF Serving model version to --export_dir/<model_name>/<version>/.

The same command line, installed (`pip install .`), is `pixel-keras`
(pixel_keras/cli/main.py).
"""

from pixel_keras.cli.main import run

if __name__ == "__main__":
    run()
