"""Fixtures of the data tests."""

import pytest

from pixel_keras import data


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.fixture(scope="module")
def tfds():
    return pytest.importorskip("tensorflow_datasets")
