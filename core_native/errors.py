"""Exceptions raised by tinyai_workbench.core_native (native failures map onto these)."""


class TinyAIError(Exception):
    """Base class of every error this package raises."""


class ModelError(TinyAIError, ValueError):
    """The model file, graph or weights file is malformed, truncated or inconsistent."""


class UnsupportedOperatorError(ModelError):
    """An operator (or attribute/dtype combination) that is not implemented."""

    def __init__(self, message, op_type=None, node_name=None):
        super().__init__(message)
        self.op_type = op_type
        self.node_name = node_name


class InputError(TinyAIError, ValueError):
    """Inputs do not match the model (name, dtype, rank, dimension)."""


class BudgetError(TinyAIError):
    """No plan fits the memory budget; minimum_bytes is the smallest budget that would."""

    def __init__(self, message, minimum_bytes=None):
        super().__init__(message)
        self.minimum_bytes = minimum_bytes


class ExecutionError(TinyAIError, RuntimeError):
    """A kernel failed at run time on data the graph allowed."""


class CancelledError(TinyAIError):
    """The run was stopped by cancel() at a layer boundary."""
