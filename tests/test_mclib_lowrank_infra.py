"""Unit tests of the infrastructure lesson 05 added: DigitsAlexNet, the digits-alexnet recipe's
registration and plot.singular_spectrum."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mclib import plot, zoo  # noqa: E402
from mclib.models import DigitsAlexNet  # noqa: E402


def test_digits_alexnet_shapes_and_groups():
    torch.manual_seed(0)
    m = DigitsAlexNet()
    assert m(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    assert [m.conv2.groups, m.conv3.groups, m.conv4.groups, m.conv5.groups] == [2, 1, 2, 2]
    assert sum(p.numel() for p in m.parameters()) == 234250
    small = DigitsAlexNet((4, 8, 6), (16, 12), num_classes=3)
    assert small(torch.zeros(2, 1, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize("channels", [(3, 8, 8), (0, 4, 4), (4, 8)])
def test_digits_alexnet_rejects_bad_channels(channels):
    with pytest.raises((ValueError, TypeError)):
        DigitsAlexNet(channels)


def test_recipe_is_registered():
    assert zoo.RECIPES["digits-alexnet"] is zoo.digits_alexnet
    assert "digits_alexnet" in zoo.__all__


def test_singular_spectrum_kept_energy():
    s = np.array([3.0, 2.0, 1.0, 0.0])
    ax = plot.singular_spectrum(s, rank=2, title="t")
    assert ax.kept_energy == pytest.approx(13 / 14)
    assert plot.singular_spectrum(s).kept_energy == pytest.approx(1.0)
    assert plot.singular_spectrum(s, rank=0).kept_energy == 0.0
    plt.close("all")


@pytest.mark.parametrize("values,rank", [([], None), ([1.0, 2.0], None), ([2.0, -1.0], None),
                                         ([2.0, 1.0], 3), ([2.0, 1.0], -1), ([2.0, 1.0], 1.5)])
def test_singular_spectrum_rejects_bad_input(values, rank):
    with pytest.raises(ValueError):
        plot.singular_spectrum(values, rank=rank)
    plt.close("all")
