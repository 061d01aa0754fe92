#!/usr/bin/env bash
# pixel_keras as a user installs it. Builds the sdist and the wheel (python -m
# build) from a clean copy of the checkout, installs the wheel and its
# dependencies into a fresh virtual environment outside the checkout, and,
# from a folder outside the checkout, runs the console script: --help, a
# one-epoch train on the embedded digits, sample and export. Then a process
# that imports TensorFlow only loads the export and calls its signatures.
#
# Usage: .ci/installed_package.sh (from anywhere). `python` must have `build`
# (requirements.txt); KEEP=1 keeps the scratch folder. Prints each step's time.
set -euo pipefail
checkout="$(cd "$(dirname "$0")/.." && pwd)"
scratch="$(mktemp -d)"
if [ "${KEEP:-0}" = 1 ]; then
  echo "scratch folder: $scratch"
else
  trap 'rm -rf "$scratch"' EXIT
fi
total_start=$SECONDS

step() {  # step NAME COMMAND...: runs COMMAND, then prints its time
  local name="$1" start=$SECONDS
  shift
  echo "== $name"
  "$@"
  echo "== $name: $((SECONDS - start)) s"
}

copy_source() {
  # What a fresh clone holds: the files git tracks and the new ones it does
  # not ignore (the checkout's build/ and *.egg-info would leak into the sdist).
  mkdir -p "$scratch/source"
  if git -C "$checkout" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    (cd "$checkout" && git ls-files -z --cached --others --exclude-standard \
      | while IFS= read -r -d '' path; do [ -f "$path" ] && printf '%s\0' "$path"; done \
      | tar -c --null -T - -f -) | tar -x -C "$scratch/source" -f -
  else
    tar -c -C "$checkout" --exclude=.venv --exclude=build --exclude=dist \
      --exclude='*.egg-info' --exclude=__pycache__ --exclude=workdir -f - . \
      | tar -x -C "$scratch/source" -f -
  fi
}

build_dists() {
  python -m build --outdir "$scratch/dist" "$scratch/source" > "$scratch/build.log" 2>&1 \
    || { tail -n 40 "$scratch/build.log"; return 1; }
  ls "$scratch/dist"
}

install_wheel() {
  python -m venv "$scratch/venv"
  "$scratch/venv/bin/python" -m pip install --quiet --upgrade pip
  "$scratch/venv/bin/python" -m pip install --quiet "$scratch"/dist/pixel_keras-*.whl
  "$scratch/venv/bin/python" -m pip list 2>/dev/null \
    | grep -iE '^(pixel.keras|tensorflow|keras|tensorflow-probability|numpy|scikit-learn) '
}

check_help() {
  # absl's --help prints the usage and exits with status 1.
  local status=0
  pixel-keras --help > help.txt || status=$?
  cat help.txt
  [ "$status" -le 1 ] || { echo "--help exited with $status"; return 1; }
  for command in train eval sample complete export; do
    grep -q "pixel-keras $command" help.txt || { echo "--help lacks $command"; return 1; }
  done
}

check_namespace() {
  # Only pixel_keras is installed: no top-level `export` or `cli`.
  python - <<'EOF'
import importlib.util
import pixel_keras
for name in ("export", "cli", "main", "tests"):
    assert importlib.util.find_spec(name) is None, f"{name} is installed"
print("pixel_keras", pixel_keras.__version__, "from", pixel_keras.__file__)
EOF
}

check_sample() {
  pixel-keras sample --workdir=run --num_samples=4
  ls run/*.png
}

load_with_tensorflow_only() {
  python - <<'EOF'
import glob
import sys

import numpy as np
import tensorflow as tf

(path,) = glob.glob("models/pixel_cnn_pp/*")
model = tf.saved_model.load(path)
print(sorted(model.signatures))
images = model.signatures["serving_default"](seed=tf.constant([[1, 2], [3, 4]]))["images"]
scores = model.signatures["log_prob"](images=images)
print("sampled", images.shape, images.dtype.name,
      "bits/dim", np.round(scores["bits_per_dim"].numpy(), 3))
assert images.shape == (2, 8, 8, 1) and np.isfinite(scores["bits_per_dim"]).all()
assert not [m for m in sys.modules if m.partition(".")[0] == "pixel_keras"]
EOF
  ls "$(ls -d models/pixel_cnn_pp/* | head -n 1)/assets.extra"
}

step "copy the checkout's source" copy_source
step "python -m build (sdist, then the wheel from it)" build_dists
step "install the wheel into a fresh virtual environment" install_wheel

# From here on, a user's shell: the environment's scripts on PATH, outside
# the checkout, nothing of the checkout importable.
export PATH="$scratch/venv/bin:$PATH"
unset PYTHONPATH
export TF_CPP_MIN_LOG_LEVEL=2
mkdir -p "$scratch/user"
cd "$scratch/user"
step "only pixel_keras installed" check_namespace
step "pixel-keras --help" check_help
step "pixel-keras train (1 epoch, tiny, digits)" \
  pixel-keras train --workdir=run --epochs=1 --preset=tiny --num_samples=4
step "pixel-keras sample" check_sample
step "pixel-keras export" pixel-keras export --workdir=run --export_dir=models
step "load the export with TensorFlow only" load_with_tensorflow_only
echo "== installed package checked in $((SECONDS - total_start)) s"
