"""The native execution core's Python facade: models, sessions, configuration, errors."""
from . import _core
from .config import (CacheConfig, Config, LayerSchedulerConfig, MemoryOptimizerConfig,
                     ProgressiveLoaderConfig)
from .errors import (BudgetError, CancelledError, ExecutionError, InputError, ModelError,
                     TinyAIError, UnsupportedOperatorError)
from .importer import import_onnx
from .memory_optimizer import MemoryReport, optimize_memory_usage
from .model import LayerInfo, Model, TensorInfo, load_model
from .session import Session


def supported_ops():
    """ONNX op types (default domain) the core implements."""
    return sorted(_core.registered_op_types())


__all__ = [
    "BudgetError", "CacheConfig", "CancelledError", "Config", "ExecutionError", "InputError",
    "LayerInfo", "LayerSchedulerConfig", "MemoryOptimizerConfig", "MemoryReport", "Model", "ModelError",
    "ProgressiveLoaderConfig", "Session", "TensorInfo", "TinyAIError",
    "UnsupportedOperatorError", "import_onnx", "load_model", "optimize_memory_usage",
    "supported_ops",
]
