import pytest
import torch

from mclib import measure, models


def test_alexnet_matches_the_published_counts():
    net = models.AlexNet()
    assert measure.num_parameters(net) == 60_965_224
    assert measure.count_macs(net, torch.zeros(models.ALEXNET_INPUT)) == 724_406_816
    weights = sum(m.weight.numel() for m in net.modules() if hasattr(m, "weight") and m.weight is not None
                  and m.weight.dim() > 1)
    assert weights == 60_954_656  # references.md: weights without biases
    assert net.conv2.groups == net.conv4.groups == net.conv5.groups == 2


def test_alexnet_output_shape():
    assert models.AlexNet().eval()(torch.zeros(2, 3, 227, 227)).shape == (2, 1000)


@pytest.mark.parametrize("factory, n", [(lambda: models.lenet_300_100(784), 266_610),
                                        (models.LeNet5, 431_080),
                                        (lambda: models.lenet_300_100(64), 50_610)])
def test_lenet_parameter_counts(factory, n):
    assert measure.num_parameters(factory()) == n


def test_lenet5_and_cnn_forward_shapes():
    assert models.LeNet5()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert models.DigitsCNN()(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert models.MLP([64, 10])(torch.zeros(3, 1, 8, 8)).shape == (3, 10)  # flattens


def test_mlp_layer_names_are_stable():
    names = [n for n, _ in models.MLP([4, 5, 6, 2], dropout=0.1).named_children()]
    assert names == ["fc1", "relu1", "drop1", "fc2", "relu2", "drop2", "fc3"]


@pytest.mark.parametrize("sizes", [[], [3], [3, 0], [3, 2.5], "abc"])
def test_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes must list"):
        models.MLP(sizes)


def test_bad_dropout_and_channels():
    with pytest.raises(ValueError, match="dropout"):
        models.MLP([2, 2], dropout=1.0)
    with pytest.raises(ValueError, match="channels"):
        models.DigitsCNN((0, 4))
