"""Small CNNs written here (paper 003): LeNet and VGG-8.

Paper 003 gives their structure only as figures; the text fixes what is implemented:
LeNet = three convolutions, two (average) poolings, three fully connected layers, ReLU, dropout
in the FC layers; VGG-8 = eight hidden layers of the VGG kind (same 3x3 kernels and 2x2 max
pools throughout): five convolutions and three fully connected layers.
"""

from __future__ import annotations

from torch import nn

from geoprospect.models.registry import register, require_window


class LeNet(nn.Module):
    """LeNet-5 layout for C bands: conv5-pool-conv5-pool-conv5, then FC-FC-FC (paper 003, Fig. 6)."""

    def __init__(self, in_channels: int, num_classes: int = 2, window_size: int = 32, dropout: float = 0.5) -> None:
        super().__init__()
        require_window("lenet", window_size, 28)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(inplace=True), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.AvgPool2d(2),
            nn.Conv2d(16, 120, 5), nn.ReLU(inplace=True),
            # 32-pixel windows leave 2x2 maps; any window >= 28 is averaged to 1x1 here
            nn.AdaptiveAvgPool2d(1),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(120, 120), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(120, 84), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class VGG8(nn.Module):
    """VGG-8: five 3x3 conv + BN + ReLU layers, each followed by a 2x2 max pool, then three FC layers."""

    def __init__(self, in_channels: int, num_classes: int = 2, window_size: int = 32, widths: tuple[int, ...] = (64, 128, 256, 512, 512), hidden: int = 512, dropout: float = 0.5) -> None:
        super().__init__()
        require_window("vgg8", window_size, 2 ** len(widths))
        layers: list[nn.Module] = []
        c = in_channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = w
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.classifier(self.features(x))


@register("lenet")
def lenet(in_channels: int, num_classes: int = 2, window_size: int = 32, dropout: float = 0.5) -> nn.Module:
    """LeNet (paper 003): 3 conv, 2 average pools, 3 FC layers with dropout; windows >= 28 px."""
    return LeNet(in_channels, num_classes, window_size, dropout)


@register("vgg8")
def vgg8(in_channels: int, num_classes: int = 2, window_size: int = 32, hidden: int = 512, dropout: float = 0.5, width: float = 1.0) -> nn.Module:
    """VGG-8 (paper 003): 5 conv (3x3, BN) + 5 max pools + 3 FC layers; windows >= 32 px.

    ``width`` scales the channel counts 64-128-256-512-512 (and the FC width) for quick runs.
    """
    widths = tuple(max(4, int(round(c * width))) for c in (64, 128, 256, 512, 512))
    return VGG8(in_channels, num_classes, window_size, widths=widths, hidden=max(8, int(round(hidden * width))), dropout=dropout)
