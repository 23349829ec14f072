"""Session: runs a model on the native core with a Config."""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import numpy as np

from . import _core
from .config import Config, to_native
from .errors import InputError
from .model import Model

_SUPPORTED_INPUT_DTYPES = (np.float32, np.int64, np.int32, np.bool_)


class Session:
    """Executes `model` with `config`. ``run`` releases the GIL while the core computes."""

    def __init__(self, model: Model, config: Optional[Config] = None):
        if not isinstance(model, Model):
            raise TypeError(f"Session needs a tinyai_workbench Model, got {type(model).__name__}")
        self.model = model
        self._config = config if config is not None else Config()
        self._native = _core.Session(model.native_graph, str(model.weights_path),
                                     to_native(self._config))

    @property
    def config(self) -> Config:
        return self._config

    def set_config(self, config: Config) -> None:
        """Queue a new configuration; it takes effect at the next run (never mid-run)."""
        native = to_native(config)  # validate before accepting
        self._config = config
        self._native.set_config(native)

    def run(self, inputs: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
        if not isinstance(inputs, Mapping):
            raise InputError("run() takes a mapping of input name to numpy array")
        feeds = {}
        for name, value in inputs.items():
            arr = np.asarray(value)
            if arr.dtype.type not in _SUPPORTED_INPUT_DTYPES:
                want = next((i.dtype for i in self.model.inputs if i.name == name), None)
                hint = f"; the model expects {np.dtype(want).name}" if want is not None else ""
                raise InputError(f"input '{name}' has dtype {arr.dtype.name}{hint}")
            feeds[str(name)] = np.ascontiguousarray(arr)
        return self._native.run(feeds)

    def stats(self) -> Dict[str, float]:
        """A consistent snapshot of memory and timing counters; cheap enough to poll at 30 Hz."""
        return self._native.stats()

    def cancel(self) -> None:
        """Stop the current run at the next layer boundary (it raises CancelledError)."""
        self._native.cancel()

    def last_plan(self) -> dict:
        """Per-step record of the last input signature's execution (output and live bytes)."""
        return self._native.last_plan()
