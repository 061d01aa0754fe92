#!/usr/bin/env bash
# The GPU rows of README's speed tables, in one prepared run.
#
#   bash benchmarks/gpu.sh            # both parts
#   bash benchmarks/gpu.sh train      # train step and log_prob against TFP
#   bash benchmarks/gpu.sh sampling   # sampling / scoring, every family
#
# Needs TensorFlow with a GPU it can see (it stops otherwise, exit status 2).
# Each part is sized to end within 10 minutes on one data-centre GPU:
#
# - train: `vs_tfp.py` at 32x32x3 (1 resnet, 32 filters) and at the
#   `cifar10` preset's size (5 resnets, 160 filters, 10 mixtures), batch 16,
#   ours in float32 and mixed_bfloat16, each with and without XLA, against
#   TFP in float32 without XLA;
# - sampling: `sampling.py` for PixelCNN++ and the PixelRNN paper's three
#   models at 32x32x3, batch 1, 16 and 256 (naive and TFP at 1 and 16).
#
# For a dry run of the commands on a machine without a GPU (tiny models):
#   GPU_CHECK_ALLOW_CPU=1 TRAIN_CONFIGS=8x8x1-r1-h1-f8-k2 \
#     SAMPLING_CONFIGS=tiny BATCH_SIZES=1 TFP_CONFIGS= bash benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

part="${1:-all}"
case "$part" in
  all|train|sampling) ;;
  *) echo "Expected 'all', 'train' or 'sampling'. Received: '$part'" >&2; exit 2 ;;
esac

TRAIN_CONFIGS="${TRAIN_CONFIGS-32x32x3-r1-h3-f32-k5,32x32x3-r5-h3-f160-k10}"
SAMPLING_CONFIGS="${SAMPLING_CONFIGS-32x32x3,pixel_cnn-32x32x3,row_lstm-32x32x3,diagonal_bilstm-32x32x3}"
BATCH_SIZES="${BATCH_SIZES-1,16,256}"
TFP_CONFIGS="${TFP_CONFIGS-32x32x3}"
export PYTHONUNBUFFERED=1

python - <<'EOF'
import os, sys
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
print("TensorFlow", tf.__version__, "GPUs:", [gpu.name for gpu in gpus])
if not gpus and os.environ.get("GPU_CHECK_ALLOW_CPU") != "1":
    print("No GPU visible to TensorFlow: these are the GPU rows. "
          "(GPU_CHECK_ALLOW_CPU=1 runs them anyway.)", file=sys.stderr)
    sys.exit(2)
EOF
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
fi

if [ "$part" != sampling ]; then
  python benchmarks/vs_tfp.py --skip_memory --breakdown \
    --configs "$TRAIN_CONFIGS" \
    --variants float32+xla,mixed_bfloat16,mixed_bfloat16+xla
fi
if [ "$part" != train ]; then
  python benchmarks/sampling.py --configs "$SAMPLING_CONFIGS" \
    --batch_sizes "$BATCH_SIZES" --tfp_configs "$TFP_CONFIGS" --naive_budget 20
fi
