"""`data.load(name)`: `num_levels`, missing paths, files that are not .npz,
and unknown names, named clearly."""

import re

import pytest

from pixel_keras import data


@pytest.mark.parametrize("num_levels", [0, 1, 257, 2.5, True, "17"])
def test_invalid_num_levels(num_levels):
    with pytest.raises(ValueError, match=r"`num_levels`.*\[2, 256\]"):
        data.load("digits", num_levels=num_levels)


def test_existing_file_that_is_not_npz(tmp_path):
    path = tmp_path / "images.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"images\.txt.*not a \.npz"):
        data.load(str(path))


@pytest.mark.parametrize(
    "name", ["missing.npz", "./missing_folder", "/nonexistent/pixel_keras/data", "~/no/such/dir.npz"]
)
def test_missing_path_raises_file_not_found(name):
    with pytest.raises(FileNotFoundError, match=re.escape(name)):
        data.load(name)


def test_unknown_name_lists_what_is_expected(tfds):
    with pytest.raises(ValueError) as error_info:
        data.load("no_such_dataset_anywhere")
    message = str(error_info.value)
    assert "no_such_dataset_anywhere" in message
    for expected in ("'digits'", ".npz", "folder", "TensorFlow Datasets", "network", "data_dir"):
        assert expected in message
