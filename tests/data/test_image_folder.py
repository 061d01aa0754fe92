"""Image folders: flat or with class sub-folders, PNG and JPEG, and every
bad folder named clearly."""

import re

import numpy as np
import pytest
import tensorflow as tf

from pixel_keras import data
from tests import helpers


def test_flat_folder_is_unlabelled(tmp_path):
    for index in range(6):
        helpers.write_png(tmp_path / f"image_{index}.png", np.full((4, 4, 1), index * 10))
    (tmp_path / "notes.txt").write_text("ignored")
    dataset = data.load(str(tmp_path))
    assert dataset.image_shape == (4, 4, 1)
    assert dataset.num_classes is None
    assert dataset.num_levels == 256
    assert (dataset.num_train_examples, dataset.num_test_examples) == (5, 1)
    train_images, train_labels = data.images_and_labels(dataset.train)
    test_images, _ = data.images_and_labels(dataset.test)
    assert train_labels is None
    all_values = sorted(np.concatenate([train_images, test_images])[:, 0, 0, 0].tolist())
    assert all_values == [0, 10, 20, 30, 40, 50]


def test_class_sub_folders_give_sorted_labels(tmp_path):
    # The folder names sort as cat < dog; pixel values tell the images apart.
    for index in range(3):
        helpers.write_png(tmp_path / "dog" / f"{index}.png", np.full((4, 5, 3), 200))
        helpers.write_png(tmp_path / "cat" / f"{index}.png", np.full((4, 5, 3), 10))
    dataset = data.load(str(tmp_path))
    assert dataset.image_shape == (4, 5, 3)
    assert dataset.num_classes == 2
    assert dataset.train.element_spec["labels"] == tf.TensorSpec((), tf.int32)
    images, labels = data.images_and_labels(dataset.train.concatenate(dataset.test))
    assert len(labels) == 6
    for image, label in zip(images, labels):
        assert image[0, 0, 0] == (10 if label == 0 else 200)


def test_folder_decodes_jpeg(tmp_path):
    for index in range(3):
        image = np.full((8, 8, 3), 100, np.uint8)
        (tmp_path / f"photo_{index}.JPG").write_bytes(tf.io.encode_jpeg(image).numpy())
    dataset = data.load(str(tmp_path))
    assert dataset.image_shape == (8, 8, 3)


def test_empty_folder(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path)) + r".*contains no"):
        data.load(str(tmp_path))


def test_folder_with_mixed_sizes(tmp_path):
    helpers.write_png(tmp_path / "a.png", np.zeros((4, 4, 1)))
    helpers.write_png(tmp_path / "b.png", np.zeros((5, 4, 1)))
    with pytest.raises(ValueError, match=r"b\.png.*\(5, 4, 1\).*a\.png.*\(4, 4, 1\)"):
        data.load(str(tmp_path))


def test_folder_with_mixed_channels(tmp_path):
    helpers.write_png(tmp_path / "a.png", np.zeros((4, 4, 1)))
    helpers.write_png(tmp_path / "b.png", np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match=r"b\.png.*\(4, 4, 3\).*a\.png.*\(4, 4, 1\)"):
        data.load(str(tmp_path))


def test_folder_with_undecodable_file(tmp_path):
    helpers.write_png(tmp_path / "a.png", np.zeros((4, 4, 1)))
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"broken\.png"):
        data.load(str(tmp_path))


def test_folder_with_16_bit_png(tmp_path):
    helpers.write_png(tmp_path / "a.png", np.zeros((4, 4, 1)))
    deep = tf.io.encode_png(tf.zeros((4, 4, 1), tf.uint16)).numpy()
    (tmp_path / "deep.png").write_bytes(deep)
    with pytest.raises(ValueError, match=r"deep\.png.*16-bit PNG"):
        data.load(str(tmp_path))


def test_folder_with_empty_class_sub_folder(tmp_path):
    helpers.write_png(tmp_path / "full" / "a.png", np.zeros((4, 4, 1)))
    helpers.write_png(tmp_path / "full" / "b.png", np.zeros((4, 4, 1)))
    (tmp_path / "hollow").mkdir()
    with pytest.raises(ValueError, match=r"hollow.*no .*images"):
        data.load(str(tmp_path))


def test_folder_mixing_images_and_sub_folders(tmp_path):
    helpers.write_png(tmp_path / "loose.png", np.zeros((4, 4, 1)))
    helpers.write_png(tmp_path / "class_a" / "a.png", np.zeros((4, 4, 1)))
    with pytest.raises(ValueError, match=r"both image files.*and sub-folders"):
        data.load(str(tmp_path))


def test_folder_values_above_num_levels(tmp_path):
    helpers.write_png(tmp_path / "a.png", np.zeros((2, 2, 1)))
    helpers.write_png(tmp_path / "b.png", np.full((2, 2, 1), 3))
    assert data.load(str(tmp_path), num_levels=4).num_levels == 4
    with pytest.raises(ValueError, match=r"maximum pixel value 3.*\[0, 1\]"):
        data.load(str(tmp_path), num_levels=2)
