"""Analytics models over the loaded klink tables (docs/models.md): `run_transforms(pipeline)`."""

from .registry import MODELS, Model, topological_order
from .runner import BuildResult, build_models, models_dataset_name, run_transforms

__all__ = ["MODELS", "Model", "BuildResult", "build_models", "models_dataset_name", "run_transforms",
           "topological_order"]
