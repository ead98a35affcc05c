"""The networks the course compresses.

- ``MLP(sizes)``: fully connected ReLU network, e.g. ``MLP([64, 128, 10])``.
- ``lenet_300_100(in_features)``: Han et al.'s LeNet-300-100 (an MLP in -> 300 -> 100 -> 10).
- ``LeNet5``: the Caffe variant used by Han et al. (conv 20, conv 50, fc 500, fc 10) for 28x28 input.
- ``DigitsCNN``: a small CNN for the 8x8 digits, fast enough to train in seconds on a CPU.
- ``AlexNet``: the original grouped Caffe (BVLC) AlexNet at 227x227, the network of Kim et al.'s
  table: 60,965,224 parameters and 724,406,816 multiply-accumulates. It is only ever counted and
  timed in this course, never trained.

Layer names are stable (``fc1``, ``conv2``, ...) because lessons address layers by name.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = ["MLP", "lenet_300_100", "LeNet5", "DigitsCNN", "AlexNet", "ALEXNET_INPUT", "DigitsAlexNet"]

#: AlexNet's input shape (batch, channels, height, width) in the Caffe reference model.
ALEXNET_INPUT = (1, 3, 227, 227)


class MLP(nn.Sequential):
    """Fully connected network: Linear layers ``fc1..fcN`` with ReLU between them (none after the
    last). ``sizes`` lists the widths from input to output, at least two of them."""

    def __init__(self, sizes, dropout: float = 0.0):
        sizes = list(sizes)
        if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two positive integers (input, ..., output), "
                             f"got {sizes!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        layers = OrderedDict()
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            layers[f"fc{i}"] = nn.Linear(a, b)
            if i < len(sizes) - 1:
                layers[f"relu{i}"] = nn.ReLU()
                if dropout:
                    layers[f"drop{i}"] = nn.Dropout(dropout)
        super().__init__(layers)
        self.sizes = sizes

    def forward(self, x):
        return super().forward(x.flatten(1))


def lenet_300_100(in_features: int = 64, num_classes: int = 10) -> MLP:
    """LeNet-300-100 (Han et al. 2015): in -> 300 -> 100 -> classes. With 784 inputs (MNIST) it has
    266,610 parameters; with the 64 pixels of the digits, 50,610."""
    return MLP([in_features, 300, 100, num_classes])


class LeNet5(nn.Module):
    """Caffe's LeNet (20-50-500-10) for 1x28x28 input: 431,080 parameters."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(50 * 4 * 4, 500)
        self.fc2 = nn.Linear(500, num_classes)

    def forward(self, x):
        x = torch.max_pool2d(self.conv1(x), 2)
        x = torch.max_pool2d(self.conv2(x), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class DigitsCNN(nn.Module):
    """A small CNN for 1x8x8 digits: two 3x3 convs (``conv1``, ``conv2``, padding 1) with ReLU,
    a 2x2 max-pool, then ``fc`` from channels[1] * 4 * 4 features to the classes."""

    def __init__(self, channels=(16, 32), num_classes: int = 10):
        super().__init__()
        c1, c2 = channels
        if not all(isinstance(c, int) and c >= 1 for c in (c1, c2)):
            raise ValueError(f"channels must be two positive integers, got {channels!r}")
        self.channels = (c1, c2)
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.fc = nn.Linear(c2 * 4 * 4, num_classes)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


class AlexNet(nn.Module):
    """Krizhevsky et al.'s AlexNet as in the BVLC Caffe reference model: 227x227 input, LRN, and
    conv2, conv4 and conv5 split into two groups (the original two-GPU layout). Layer names are
    conv1..conv5 and fc6..fc8, as in Caffe."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.dropout = nn.Dropout(0.5)

    def features(self, x):
        x = self.lrn(torch.relu(self.conv1(x)))
        x = torch.max_pool2d(x, 3, 2)
        x = self.lrn(torch.relu(self.conv2(x)))
        x = torch.max_pool2d(x, 3, 2)
        x = torch.relu(self.conv3(x))
        x = torch.relu(self.conv4(x))
        x = torch.max_pool2d(torch.relu(self.conv5(x)), 3, 2)
        return x

    def forward(self, x):
        x = self.features(x).flatten(1)
        x = self.dropout(torch.relu(self.fc6(x)))
        x = self.dropout(torch.relu(self.fc7(x)))
        return self.fc8(x)


class DigitsAlexNet(nn.Module):
    """An AlexNet-shaped CNN for the 1x8x8 digits (lesson 05's low-rank experiments): five 3x3
    convs (padding 1) with ReLU, conv2, conv4 and conv5 split into two groups like Caffe's AlexNet,
    2x2 max-pools after conv2 and conv5, then fc6, fc7 (ReLU, dropout) and fc8.
    Shapes: 1x8x8 -> conv1 c1x8x8 -> conv2 c2x8x8 -> pool c2x4x4 -> conv3 c3x4x4 -> conv4 c3x4x4
    -> conv5 c2x4x4 -> pool c2x2x2 -> fc6 -> fc7 -> fc8. ``channels = (c1, c2, c3)`` must be even."""

    def __init__(self, channels=(32, 64, 96), hidden=(256, 128), num_classes: int = 10,
                 dropout: float = 0.3):
        super().__init__()
        c1, c2, c3 = channels
        if not all(isinstance(c, int) and c >= 2 and c % 2 == 0 for c in (c1, c2, c3)):
            raise ValueError(f"channels must be three even positive integers (grouped convs), "
                             f"got {channels!r}")
        h1, h2 = hidden
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1, groups=2)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.conv4 = nn.Conv2d(c3, c3, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(c3, c2, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(c2 * 2 * 2, h1)
        self.fc7 = nn.Linear(h1, h2)
        self.fc8 = nn.Linear(h2, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.conv3(x))
        x = torch.relu(self.conv4(x))
        x = torch.max_pool2d(torch.relu(self.conv5(x)), 2)
        x = self.dropout(torch.relu(self.fc6(x.flatten(1))))
        x = self.dropout(torch.relu(self.fc7(x)))
        return self.fc8(x)
