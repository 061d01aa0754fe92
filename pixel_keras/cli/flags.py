"""The flags of `pixel-keras` and `main.py`: every command reads them
(`--helpfull` lists them), and a recipe (`--recipe`) gives the training
flags it sets their defaults."""

from absl import flags

# Plain data (no TensorFlow), so that `--help` and flag errors answer fast.
from pixel_keras import recipes

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", "workdir", "Folder for checkpoints, logs and outputs.")
flags.DEFINE_string(
    "recipe",
    None,
    "Training recipe: model, preset, dataset, optimizer, batch size, epochs, "
    "EMA and weight normalization (pixel_keras/recipes.py); every flag given "
    "replaces the recipe's value. Default: the --model's digits recipe. One of: "
    + ", ".join(sorted(recipes.RECIPES)) + ".",
)
flags.DEFINE_string(
    "dataset",
    None,
    "'digits' (embedded 8x8 digits), a TFDS name (mnist, binarized_mnist, "
    "cifar10, ...), a .npz file or a folder of PNG/JPEG images (default: the "
    "recipe's).",
)
flags.DEFINE_string("data_dir", None, "TFDS data folder.")
flags.DEFINE_integer(
    "num_levels", None, "Values per channel of a .npz / folder dataset (default 256)."
)
flags.DEFINE_enum(
    "model",
    None,
    ["pixel_cnn_pp", "pixel_cnn", "row_lstm", "diagonal_bilstm", "gated_pixel_cnn", "pixel_snail"],
    "The model: PixelCNN++, the PixelRNN paper's PixelCNN, Row LSTM or "
    "Diagonal BiLSTM, the Gated PixelCNN, or PixelSNAIL (default: the "
    "recipe's, else pixel_cnn_pp).",
)
flags.DEFINE_string(
    "preset",
    None,
    "Preset of the model: tiny, or mnist / cifar10 (pixel_cnn_pp), "
    "binarized_mnist / cifar10 (pixel_cnn, row_lstm, diagonal_bilstm, "
    "gated_pixel_cnn), vqvae_prior (gated_pixel_cnn), cifar10 / imagenet32 / "
    "vqvae2_top (pixel_snail) (default: the recipe's).",
)
flags.DEFINE_integer("num_filters", None, "Override the preset's num_filters.")
flags.DEFINE_integer("num_resnet", None, "Override the preset's num_resnet.")
flags.DEFINE_integer("num_hierarchies", None, "Override the preset's num_hierarchies.")
flags.DEFINE_integer("num_logistic_mix", None, "Override the preset's num_logistic_mix.")
flags.DEFINE_float("dropout", None, "Override the preset's dropout.")
flags.DEFINE_integer("num_blocks", None, "PixelSNAIL: override the preset's num_blocks.")
flags.DEFINE_integer("num_heads", None, "PixelSNAIL: override the preset's num_heads.")
flags.DEFINE_integer("key_dim", None, "PixelSNAIL: override the preset's key_dim.")
flags.DEFINE_integer("value_dim", None, "PixelSNAIL: override the preset's value_dim.")
flags.DEFINE_bool(
    "weight_norm",
    None,
    "PixelCNN++, PixelSNAIL, PixelCNN, Gated PixelCNN: weight normalization "
    "with data-dependent initialization on the first training batch (default: "
    "the recipe's; --noweight_norm turns it off).",
)
flags.DEFINE_integer(
    "num_layers",
    None,
    "Override the preset's num_layers (PixelCNN, PixelRNN, Gated PixelCNN).",
)
flags.DEFINE_integer(
    "output_filters",
    None,
    "Override the preset's output_filters (PixelCNN, PixelRNN, Gated PixelCNN).",
)
flags.DEFINE_integer(
    "kernel_size",
    None,
    "Override the preset's kernel_size (Gated PixelCNN): n of the stacks' "
    "n x n footprint, an odd int >= 3.",
)
flags.DEFINE_bool(
    "class_conditional", False, "Condition on the dataset's class labels."
)
flags.DEFINE_enum(
    "dtype_policy",
    None,
    ["float32", "mixed_bfloat16", "mixed_float16"],
    "train: the Keras dtype policy of a new model: the network computes in "
    "bfloat16 or float16 with float32 weights, and the likelihood, bits/dim, "
    "EMA and sampling stay float32; mixed_float16 scales the loss (Keras' "
    "LossScaleOptimizer). Default: float32, or a resumed checkpoint's own.",
)
flags.DEFINE_enum(
    "jit_compile",
    "auto",
    ["auto", "true", "false"],
    "train: compile the train step with XLA; auto: as Keras decides (on "
    "where TensorFlow sees a GPU, off on CPU-only machines, where it was "
    "measured slower; see README), and off with several replicas.",
)
flags.DEFINE_enum(
    "strategy",
    "auto",
    ["auto", "one_device", "mirrored", "multi_worker", "tpu"],
    "tf.distribute strategy: auto (mirrored over several GPUs, else default), "
    "one_device, mirrored (all GPUs, or the logical CPU devices), "
    "multi_worker (cluster from TF_CONFIG) or tpu (with --tpu).",
)
flags.DEFINE_string("tpu", None, "--strategy=tpu: TPU name, grpc://host:port or 'local'.")
flags.DEFINE_integer(
    "num_cpu_devices",
    None,
    "Split the CPU into this many logical devices (for --strategy=mirrored "
    "without GPUs).",
)
flags.DEFINE_integer(
    "intra_op_threads",
    None,
    "TensorFlow's intra-op thread pool (threads that split one op); default: "
    "TensorFlow's, about one per core. 1 sampled the 32x32x3 PixelCNN 1.9x as "
    "fast on 2 cores, and scored slower (README, 'Thread pools').",
)
flags.DEFINE_integer(
    "inter_op_threads",
    None,
    "TensorFlow's inter-op thread pool (ops run side by side); default: "
    "TensorFlow's, about one per core.",
)
flags.DEFINE_integer(
    "backup_steps",
    None,
    "Back up weights, optimizer state and epoch every this many steps "
    "(default: every epoch); a killed run continues from the backup when "
    "started again with the same command.",
)
flags.DEFINE_integer(
    "epochs",
    None,
    "Epochs to train (in total, counting resumed ones; default: the recipe's).",
)
flags.DEFINE_integer(
    "batch_size",
    None,
    "train: global batch size, split across the replicas of --strategy "
    "(default: the recipe's). compress: the most images per chunk; the images "
    "are split into the fewest chunks of at most this many, as even as they can "
    "be, and a chunk's size is the batch the coder runs (and decompress will run) "
    "at (default: pixel_keras.compression.DEFAULT_BATCH_SIZE, 512).",
)
flags.DEFINE_enum(
    "optimizer",
    None,
    ["adam", "rmsprop"],
    "Optimizer (default: the recipe's; another one than the recipe's starts "
    "from its default arguments).",
)
flags.DEFINE_float(
    "learning_rate", None, "Initial learning rate (default: the recipe's)."
)
flags.DEFINE_float(
    "lr_decay", None, "Learning-rate factor per step (default: the recipe's)."
)
flags.DEFINE_float(
    "ema_momentum",
    None,
    "Momentum of the EMA (Polyak) weights that eval, sample, complete and "
    "export use (the PixelCNN++ paper: 0.9995); 0 turns EMA off (default: the "
    "recipe's).",
)
flags.DEFINE_integer("seed", 0, "Seed for initialization, shuffling and sampling.")
flags.DEFINE_bool("resume", False, "Continue training from the last checkpoint.")
flags.DEFINE_string(
    "checkpoint", None, "Checkpoint for eval/sample/complete (default: newest)."
)
flags.DEFINE_integer("num_samples", 16, "Images to draw or complete.")
flags.DEFINE_float("temperature", 1.0, "Sampling temperature.")
flags.DEFINE_enum(
    "sampling_method",
    "cached",
    ["cached", "naive"],
    "How sample and complete draw pixels: 'cached' computes only what each new "
    "pixel changes; 'naive' reruns the whole network per pixel (the reference; "
    "the same images, far slower).",
)
flags.DEFINE_string(
    "output",
    None,
    "sample/complete: the PNG to write (default: in --workdir). compress: the "
    "compressed file to write. decompress: a .npz to write, or a folder of "
    "PNGs to create. Never overwritten.",
)
flags.DEFINE_string(
    "input",
    None,
    "compress: the images to compress: a .npz (its 'images', and 'labels' or "
    "'condition'), a folder of PNG/JPEG images (in the order of their sorted "
    "paths), or <dataset>:<split> with split train or test (any --dataset "
    "name: digits:test, mnist:test, my_images.npz:test). decompress: the "
    "compressed file.",
)
flags.DEFINE_bool(
    "overwrite",
    False,
    "eval: replace the nll_heatmap.png and eval_metrics.json of an earlier "
    "eval in --workdir (each atomically); without it eval refuses to start.",
)

flags.DEFINE_string(
    "export_dir", None, "export: TF Serving base folder (default: <workdir>/export)."
)
flags.DEFINE_enum(
    "condition_name",
    "condition",
    ["condition", "label"],
    "export: the name of a conditional model's condition input in every "
    "signature; 'label' keeps the name that exports before pixel_keras 0.2 "
    "gave class labels, for clients written against them.",
)
flags.DEFINE_string(
    "model_name",
    None,
    "export: the model's folder under --export_dir (default: the model kind).",
)
flags.DEFINE_bool(
    "export_xla",
    False,
    "export: the sampling signatures run the XLA-compiled sampling loop, as "
    "model.sample does (about 15x faster on CPU); TF Serving then needs "
    "--xla_cpu_compilation_enabled=true on CPU. Off: core TensorFlow ops only.",
)
flags.DEFINE_integer(
    "version", None, "export: version number (default: one more than the newest)."
)

flags.register_validator(
    "recipe",
    lambda v: v is None or v in recipes.RECIPES,
    "--recipe must be one of: " + ", ".join(sorted(recipes.RECIPES)) + ".",
)
flags.register_validator(
    "batch_size", lambda v: v is None or v > 0, "--batch_size must be > 0."
)
flags.register_validator("epochs", lambda v: v is None or v > 0, "--epochs must be > 0.")
flags.register_validator(
    "backup_steps", lambda v: v is None or v > 0, "--backup_steps must be > 0."
)
flags.register_validator(
    "num_cpu_devices", lambda v: v is None or v > 0, "--num_cpu_devices must be > 0."
)
for _pool in ("intra_op_threads", "inter_op_threads"):
    flags.register_validator(
        _pool, lambda v: v is None or v > 0, f"--{_pool} must be a positive int."
    )
flags.register_validator(
    "kernel_size",
    lambda v: v is None or (v >= 3 and v % 2 == 1),
    "--kernel_size must be an odd int >= 3.",
)
flags.register_validator("num_samples", lambda v: v > 0, "--num_samples must be > 0.")
for _size in ("num_blocks", "num_heads", "key_dim", "value_dim"):
    flags.register_validator(
        _size, lambda v: v is None or v > 0, f"--{_size} must be a positive int."
    )
# `0 < v < inf` is False for NaN too: an infinite temperature draws all-zero images.
flags.register_validator(
    "temperature",
    lambda v: 0 < v < float("inf"),
    "--temperature must be a finite number > 0.",
)
flags.register_validator(
    "version", lambda v: v is None or v > 0, "--version must be a positive int."
)
flags.register_validator(
    "learning_rate", lambda v: v is None or v > 0, "--learning_rate must be > 0."
)
flags.register_validator(
    "lr_decay", lambda v: v is None or 0 < v <= 1, "--lr_decay must be in (0, 1]."
)
flags.register_validator(
    "ema_momentum",
    lambda v: v is None or 0 <= v < 1,
    "--ema_momentum must be in [0, 1) (0: no EMA).",
)
