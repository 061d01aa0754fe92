"""What the tests share, as one importable module: `from tests import helpers`.

`tests/conftest.py` holds fixtures only, and no test module imports another.
The helpers live in modules by subject, all re-exported here:

    processes                ROOT, subprocess_env, free_port
    models                   tiny_pixel_cnn_pp, tiny_pixel_cnn, tiny_pixel_rnn, digits, ...
    keras_checks             check_layer, check_model: the Keras-style checks
    causality                input_gradient_maps, assert_raster_causal, jacobian
    subpixel_dependencies    subpixel_dependencies, assert_autoregressive, ...
    pmf                      all_images, categorical_log_prob, sharpen, ...
    cached_samplers          the checks the PixelCNN and PixelRNN folders share
    image_lstm               numpy_lstm_cell, randomize_weights, ...
    logistic_mixture         the float64 NumPy/SciPy PixelCNN++ likelihood
    data_files               save_npz, random_images, write_png, example_counter
    run_configs              run_config, tiny_run_config, export_config
    serving                  export_model_of, base_inputs, signature_inputs, client_request, ...
    tf_serving               rest_server, grpc_server: TF Serving's front ends on loaded exports
    weights                  optimizer_averages, trainable_values, ...
    graph_audit              broadcasting_matmuls
    seeding                  set_random_seed
    distribute               assert_mirrored_fit_matches_one_device
"""

from tests.helpers.processes import ROOT
from tests.helpers.processes import subprocess_env
from tests.helpers.processes import free_port
from tests.helpers.models import tiny_pixel_cnn_pp
from tests.helpers.models import tiny_pixel_cnn
from tests.helpers.models import tiny_pixel_rnn
from tests.helpers.models import perturb_weights
from tests.helpers.models import digits
from tests.helpers.keras_checks import check_layer
from tests.helpers.keras_checks import check_model
from tests.helpers.causality import input_gradient_maps
from tests.helpers.causality import assert_raster_causal
from tests.helpers.causality import jacobian
from tests.helpers.subpixel_dependencies import subpixel_dependencies
from tests.helpers.subpixel_dependencies import perturbation_dependencies
from tests.helpers.subpixel_dependencies import window_a
from tests.helpers.subpixel_dependencies import expected_dependencies
from tests.helpers.subpixel_dependencies import assert_autoregressive
from tests.helpers.pmf import all_images
from tests.helpers.pmf import image_index
from tests.helpers.pmf import categorical_log_prob
from tests.helpers.pmf import sharpen
from tests.helpers.pmf import sample_fit_p_value
from tests.helpers.pmf import independent_log_probs
from tests.helpers.cached_samplers import SUBPIXEL_CONFIGS
from tests.helpers.cached_samplers import SUBPIXEL_BATCH
from tests.helpers.cached_samplers import subpixel_model
from tests.helpers.cached_samplers import subpixel_model_of_config
from tests.helpers.cached_samplers import class_labels
from tests.helpers.cached_samplers import network_logits
from tests.helpers.cached_samplers import assert_cached_logits_equal_the_network
from tests.helpers.cached_samplers import assert_cached_and_naive_samples_identical
from tests.helpers.cached_samplers import assert_cached_and_naive_completions_identical
from tests.helpers.cached_samplers import assert_known_row_equals_the_pixel_passes
from tests.helpers.cached_samplers import assert_cached_loop_traces_with_one_image_and_an_unknown_batch
from tests.helpers.cached_samplers import assert_cached_sampler_reads_embedded_pixels_and_condition_values
from tests.helpers.image_lstm import LSTM_HEIGHT
from tests.helpers.image_lstm import LSTM_WIDTH
from tests.helpers.image_lstm import sigmoid
from tests.helpers.image_lstm import numpy_lstm_cell
from tests.helpers.image_lstm import randomize_weights
from tests.helpers.image_lstm import image_lstm
from tests.helpers.image_lstm import lstm_input
from tests.helpers.image_lstm import pixel_dependency_sets
from tests.helpers.image_lstm import masked_kernel
from tests.helpers.logistic_mixture import mixture_log_prob
from tests.helpers.logistic_mixture import mixture_channel_cdf
from tests.helpers.logistic_mixture import random_mixture_params
from tests.helpers.logistic_mixture import make_mixture
from tests.helpers.logistic_mixture import all_pixel_values
from tests.helpers.logistic_mixture import pmf_table
from tests.helpers.logistic_mixture import pooled_chi_square
from tests.helpers.data_files import example_counter
from tests.helpers.data_files import save_npz
from tests.helpers.data_files import random_images
from tests.helpers.data_files import write_png
from tests.helpers.run_configs import run_config
from tests.helpers.run_configs import tiny_run_config
from tests.helpers.run_configs import export_config
from tests.helpers.serving import EXPORT_FAMILIES
from tests.helpers.serving import serve_in_fresh_process
from tests.helpers.serving import xla_compiled_functions
from tests.helpers.serving import export_model_of
from tests.helpers.serving import base_inputs
from tests.helpers.serving import signature_inputs
from tests.helpers.serving import client_request
from tests.helpers.serving import signature_calls
from tests.helpers.serving import LOAD_AND_CALL_WITHOUT_KERAS
from tests.helpers.serving import call_signature
from tests.helpers.serving import assert_same_outputs
from tests.helpers.serving import expected_signatures
from tests.helpers.serving import signature_request
from tests.helpers.serving import call_refused
from tests.helpers.serving import folder_files
from tests.helpers.tf_serving import rest_to_tensors
from tests.helpers.tf_serving import rest_answer
from tests.helpers.tf_serving import rest_server
from tests.helpers.tf_serving import grpc_server
from tests.helpers.weights import optimizer_averages
from tests.helpers.weights import trainable_values
from tests.helpers.weights import assert_all_equal
from tests.helpers.weights import any_differ
from tests.helpers.graph_audit import BATCH_MATMULS
from tests.helpers.graph_audit import broadcasting_matmuls
from tests.helpers.seeding import set_random_seed
from tests.helpers.distribute import assert_mirrored_fit_matches_one_device
