"""The algorithms of the provider, in toolbox order."""

from .stages import (
    BuildStack,
    Density,
    DistanceToFeatures,
    Ensemble,
    Evaluate,
    EvaluateCV,
    Geology,
    Interpolate,
    KrigingCV,
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
    KrigingCV,
    DistanceToFeatures,
    Density,
    Geology,
    BuildStack,
    SelectElements,
    MakeWindows,
    TrainModel,
    Predict,
    Evaluate,
    EvaluateCV,
    Ensemble,
    RunPipeline,
    RunPipelineFromLayers,
]
