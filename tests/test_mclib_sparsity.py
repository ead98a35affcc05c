import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mclib.sparsity import draw_masks, gaussian_noise, tile_kernels  # noqa: E402


def test_tile_kernels_places_each_kernel_and_gaps():
    t = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)
    image = tile_kernels(t)
    assert image.shape == (2 * 3 - 1, 3 * 3 - 1)
    for o in range(2):
        for i in range(3):
            np.testing.assert_array_equal(image[o * 3:o * 3 + 2, i * 3:i * 3 + 2], t[o, i].numpy())
    assert np.isnan(image[2, :]).all() and np.isnan(image[:, 2]).all()
    assert np.isfinite(image).sum() == t.numel()


def test_tile_kernels_bool_mask_and_numpy():
    mask = torch.zeros(1, 1, 3, 3, dtype=torch.bool)
    mask[0, 0, 1, 1] = True
    image = tile_kernels(mask.numpy())
    assert image.sum() == 1.0 and image[1, 1] == 1.0


@pytest.mark.parametrize("bad", [torch.zeros(3, 3), torch.zeros(1, 2, 3, 3, 1), torch.zeros(0, 1, 3, 3)])
def test_tile_kernels_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="tile_kernels"):
        tile_kernels(bad)


def test_tile_kernels_rejects_non_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        tile_kernels([[1, 2]])


def test_draw_masks_one_axes_per_mask():
    gen = torch.Generator().manual_seed(0)
    masks = {"a": torch.rand(4, 3, 3, 3, generator=gen) > 0.5, "b": torch.ones(4, 3, 3, 3, dtype=torch.bool)}
    fig = plt.figure()
    axes = draw_masks(fig, masks, suptitle="x")
    assert len(axes) == 2
    assert "100% kept" in axes[1].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one mask"):
        draw_masks(plt.figure(), {})
    plt.close("all")


def test_gaussian_noise_seeded_clipped_and_pure():
    x = torch.full((5, 64), 0.5)
    before = x.clone()
    a, b = gaussian_noise(x, 0.3, seed=1), gaussian_noise(x, 0.3, seed=1)
    assert torch.equal(a, b) and torch.equal(x, before)
    assert not torch.equal(a, gaussian_noise(x, 0.3, seed=2))
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(gaussian_noise(x, 0.0), x)
    # std of the noise before clipping is sigma: with sigma small nothing is clipped
    small = gaussian_noise(torch.full((200, 200), 0.5), 0.05, seed=0)
    assert abs(float((small - 0.5).std()) - 0.05) < 0.005


@pytest.mark.parametrize("sigma", [-0.1, float("nan"), "0.1"])
def test_gaussian_noise_rejects_bad_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        gaussian_noise(torch.zeros(2, 2), sigma)


def test_gaussian_noise_rejects_integer_images_and_bad_seed():
    with pytest.raises(TypeError, match="floating-point"):
        gaussian_noise(torch.zeros(2, 2, dtype=torch.int64), 0.1)
    with pytest.raises(ValueError, match="seed"):
        gaussian_noise(torch.zeros(2, 2), 0.1, seed=-1)
