"""torchvision architectures adapted to C evidence bands (DESIGN.md decision 7).

Each builder replaces the network's first convolution by one taking ``in_channels`` bands. For
small windows (``small_input``, default when the window is under 64 pixels) the stem's stride /
first pooling is removed so that a 32-pixel window keeps a useful spatial size through the
network; with ``small_input=False`` the torchvision stem is kept (papers 001/002: 224-pixel crops).
No ImageNet weights are used: evidence bands are not RGB.
"""

from __future__ import annotations

from torch import nn

from geoprospect.errors import ModelError
from geoprospect.models.registry import adapt_conv, register, require_window


def _small(small_input: bool | None, window_size: int) -> bool:
    return window_size < 64 if small_input is None else bool(small_input)


@register("resnet18")
def resnet18(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None) -> nn.Module:
    """torchvision ResNet-18 (papers 000, 001 baseline; MFAF/SKT backbone) taking C bands.

    For windows under 64 pixels (``small_input``, the default there) the stem is a 3x3 stride-2
    convolution without max-pooling (a 32-pixel window reaches layer 4 as 2x2 instead of 1x1);
    otherwise the torchvision stem (7x7 stride 2 + max-pool) is kept.
    """
    from torchvision.models import resnet18 as tv_resnet18

    model = tv_resnet18(weights=None, num_classes=num_classes)
    if small_input is None:
        small_input = window_size < 64
    if small_input:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=2, padding=1, bias=False)
        model.maxpool = nn.Identity()
    else:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


@register("resnet50")
def resnet50(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None) -> nn.Module:
    """torchvision ResNet-50 (paper 002) with its first convolution taking C bands."""
    from torchvision.models import resnet50 as tv

    model = tv(weights=None, num_classes=num_classes)
    if _small(small_input, window_size):
        model.conv1 = adapt_conv(model.conv1, in_channels, stride=1, kernel_size=3, padding=1)
        model.maxpool = nn.Identity()
    else:
        model.conv1 = adapt_conv(model.conv1, in_channels)
    return model


@register("resnet50_2fc")
def resnet50_2fc(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None, hidden: tuple[int, int] | list[int] = (512, 128), dropout: float = 0.5) -> nn.Module:
    """ResNet-50 with two extra fully connected layers before the classifier (paper 003, Fig. 3d)."""
    model = resnet50(in_channels, num_classes, window_size, small_input)
    h1, h2 = (int(v) for v in hidden)
    model.fc = nn.Sequential(
        nn.Linear(2048, h1), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(h1, h2), nn.ReLU(inplace=True), nn.Dropout(dropout),
        nn.Linear(h2, num_classes),
    )
    return model


@register("shufflenet_v2")
def shufflenet_v2(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None, width: str = "x1_0") -> nn.Module:
    """torchvision ShuffleNetV2 (papers 000, 001) taking C bands; width x0_5/x1_0/x1_5/x2_0."""
    import torchvision.models as tvm

    builders = {"x0_5": tvm.shufflenet_v2_x0_5, "x1_0": tvm.shufflenet_v2_x1_0, "x1_5": tvm.shufflenet_v2_x1_5, "x2_0": tvm.shufflenet_v2_x2_0}
    if width not in builders:
        raise ModelError(f"unknown ShuffleNetV2 width {width!r}", hint=f"choose one of {', '.join(builders)}")
    model = builders[width](weights=None, num_classes=num_classes)
    small = _small(small_input, window_size)
    model.conv1[0] = adapt_conv(model.conv1[0], in_channels, stride=1 if small else None)
    if small:
        model.maxpool = nn.Identity()
    return model


@register("mobilenet_v2")
def mobilenet_v2(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None) -> nn.Module:
    """torchvision MobileNetV2 (papers 000, 001, 003) taking C bands."""
    from torchvision.models import mobilenet_v2 as tv

    model = tv(weights=None, num_classes=num_classes)
    model.features[0][0] = adapt_conv(model.features[0][0], in_channels, stride=1 if _small(small_input, window_size) else None)
    return model


@register("googlenet")
def googlenet(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None) -> nn.Module:
    """torchvision GoogLeNet / Inception-v1 (papers 000, 001) taking C bands, no auxiliary heads."""
    from torchvision.models import googlenet as tv

    model = tv(weights=None, num_classes=num_classes, aux_logits=False, init_weights=True, transform_input=False)
    small = _small(small_input, window_size)
    model.conv1.conv = adapt_conv(model.conv1.conv, in_channels, stride=1 if small else None, kernel_size=3 if small else None, padding=1 if small else None)
    if small:
        model.maxpool1 = nn.Identity()
    return model


@register("mnasnet")
def mnasnet(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None) -> nn.Module:
    """torchvision MnasNet 1.0 (papers 000, 001) taking C bands."""
    from torchvision.models import mnasnet1_0 as tv

    model = tv(weights=None, num_classes=num_classes)
    model.layers[0] = adapt_conv(model.layers[0], in_channels, stride=1 if _small(small_input, window_size) else None)
    return model


@register("efficientnet_b0")
def efficientnet_b0(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None) -> nn.Module:
    """torchvision EfficientNet-B0 (paper 001) taking C bands."""
    from torchvision.models import efficientnet_b0 as tv

    model = tv(weights=None, num_classes=num_classes)
    model.features[0][0] = adapt_conv(model.features[0][0], in_channels, stride=1 if _small(small_input, window_size) else None)
    return model


@register("vgg16")
def vgg16(in_channels: int, num_classes: int = 2, window_size: int = 32, batch_norm: bool = True, compact_head: bool | None = None) -> nn.Module:
    """torchvision VGG-16 (paper 003) taking C bands; batch norm on by default (trains from scratch).

    Under 224 pixels the five max-pools leave maps smaller than 7x7, so (``compact_head``, the
    default there) the 7x7 adaptive pool and its 25088-wide first FC layer become a 1x1 pool and
    a 512-wide FC layer instead of up-sampling the maps.
    """
    import torchvision.models as tvm

    require_window("vgg16", window_size, 32)
    model = (tvm.vgg16_bn if batch_norm else tvm.vgg16)(weights=None, num_classes=num_classes)
    model.features[0] = adapt_conv(model.features[0], in_channels)
    if (window_size < 224) if compact_head is None else compact_head:
        model.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        model.classifier[0] = nn.Linear(512, 4096)
    return model


@register("alexnet")
def alexnet(in_channels: int, num_classes: int = 2, window_size: int = 32, small_input: bool | None = None) -> nn.Module:
    """torchvision AlexNet (paper 003) taking C bands.

    torchvision's 11x11 stride-4 stem needs windows of 63+ pixels; for small windows it becomes a
    5x5 stride-1 convolution and the classifier sees a 2x2 pooled map (1024 features).
    """
    from torchvision.models import alexnet as tv

    model = tv(weights=None, num_classes=num_classes)
    small = _small(small_input, window_size)
    if small:
        require_window("alexnet (small_input)", window_size, 16)
        model.features[0] = adapt_conv(model.features[0], in_channels, stride=1, kernel_size=5, padding=2)
        model.avgpool = nn.AdaptiveAvgPool2d((2, 2))
        model.classifier[1] = nn.Linear(256 * 2 * 2, 4096)
    else:
        require_window("alexnet", window_size, 63)
        model.features[0] = adapt_conv(model.features[0], in_channels)
    return model


def default_patch_size(window_size: int) -> int:
    """Paper 003 uses 16x16 patches; smaller windows get the largest of 16/8/4/2 giving >= 4x4 tokens."""
    for p in (16, 8, 4, 2):
        if window_size % p == 0 and window_size // p >= 4:
            return p
    for p in (16, 8, 4, 2, 1):
        if window_size % p == 0:
            return p
    return 1


@register("vit")
def vit(in_channels: int, num_classes: int = 2, window_size: int = 32, patch_size: int | None = None, num_layers: int = 12, num_heads: int = 12, hidden_dim: int = 768, mlp_dim: int = 3072, dropout: float = 0.0) -> nn.Module:
    """torchvision Vision Transformer (paper 003: ViT-B, 12 encoder blocks) taking C bands.

    ``patch_size`` must divide the window; by default 16 (the paper's) when the window gives
    at least 4x4 patches, else the largest of 8/4/2 that does (32-pixel windows: 8).
    """
    from torchvision.models.vision_transformer import VisionTransformer

    p = int(patch_size) if patch_size is not None else default_patch_size(window_size)
    if p < 1 or window_size % p:
        raise ModelError(f"ViT patch size {p} does not divide the {window_size}-pixel window", hint=f"use a patch size dividing {window_size}, e.g. {default_patch_size(window_size)}")
    if hidden_dim % num_heads:
        raise ModelError(f"ViT hidden_dim {hidden_dim} is not a multiple of num_heads {num_heads}")
    model = VisionTransformer(image_size=window_size, patch_size=p, num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim, mlp_dim=mlp_dim, dropout=dropout, num_classes=num_classes)
    old = model.conv_proj
    model.conv_proj = nn.Conv2d(in_channels, hidden_dim, kernel_size=p, stride=p)
    fan_in = in_channels * p * p
    nn.init.trunc_normal_(model.conv_proj.weight, std=(1.0 / fan_in) ** 0.5)
    nn.init.zeros_(model.conv_proj.bias)
    del old
    return model
