"""``torch.nn`` layers that hold no parameters, whatever their arguments (measured on
torch 2.13.0: ``list(layer.parameters()) == []`` for each; ``PReLU`` has one)."""

PARAMETER_FREE_LAYERS = frozenset(
    {
        "ReLU", "ReLU6", "GELU", "SiLU", "Mish", "Tanh", "Sigmoid", "LeakyReLU", "ELU",
        "CELU", "SELU", "GLU", "Hardtanh", "Hardswish", "Softplus", "Softsign", "Softmax",
        "Softmin", "LogSoftmax", "LogSigmoid", "Tanhshrink", "Threshold", "Dropout",
        "Dropout1d", "Dropout2d", "AlphaDropout", "Identity", "Flatten", "Unflatten",
        "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d",
        "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Upsample",
        "PixelShuffle", "ZeroPad2d", "ConstantPad2d",
    }
)  # fmt: skip
