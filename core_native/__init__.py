"""The native execution core's Python facade: models, sessions, configuration, errors."""
from . import _core
from .config import (CacheConfig, CheckpointStrategy, Config, LayerSchedulerConfig, MemoryOptimizerConfig,
                     ProgressiveLoaderConfig, SimdOpsConfig)
from .errors import (BudgetError, CancelledError, ExecutionError, InputError, ModelError,
                     TinyAIError, UnsupportedOperatorError)
from .importer import import_onnx
from .loader import LayerPriority, LayerStatus, ProgressiveLoader
from .memory_optimizer import MemoryReport, optimize_memory_usage
from .model import LayerInfo, Model, TensorInfo, load_model
from .session import Session
from .simd import (SimdOp, cache_stats, enable_simd, optimize_memory_layout, reset_cache_stats,
                   set_simd_optimization_level, simd_capabilities)


def supported_ops():
    """ONNX op types (default domain) the core implements."""
    return sorted(_core.registered_op_types())


__all__ = [
    "BudgetError", "CacheConfig", "CancelledError", "CheckpointStrategy", "Config", "ExecutionError", "InputError",
    "LayerInfo", "LayerPriority", "LayerSchedulerConfig", "LayerStatus", "MemoryOptimizerConfig", "MemoryReport", "Model", "ModelError",
    "ProgressiveLoader", "ProgressiveLoaderConfig", "Session", "SimdOp", "SimdOpsConfig", "cache_stats", "enable_simd",
    "optimize_memory_layout", "reset_cache_stats", "set_simd_optimization_level", "simd_capabilities", "TensorInfo", "TinyAIError",
    "UnsupportedOperatorError", "import_onnx", "load_model", "optimize_memory_usage",
    "supported_ops",
]
