"""The algorithms of the provider, in toolbox order."""

from .stages import (
    BuildStack,
    Density,
    DistanceToFeatures,
    Ensemble,
    Evaluate,
    Interpolate,
    MakeWindows,
    Predict,
    PrepareGeochem,
    RunPipeline,
    RunPipelineFromLayers,
    SelectElements,
    TrainModel,
)

ALGORITHMS = [
    PrepareGeochem,
    Interpolate,
    DistanceToFeatures,
    Density,
    BuildStack,
    SelectElements,
    MakeWindows,
    TrainModel,
    Predict,
    Evaluate,
    Ensemble,
    RunPipeline,
    RunPipelineFromLayers,
]
