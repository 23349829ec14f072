"""tinyai-workbench: fit neural networks into a memory budget on a CPU, and see why they fit.

This file is installed as the package root ``tinyai_workbench``
(CMakeLists.txt installs it); the engine API lives in ``tinyai_workbench.core_native``.
"""
from tinyai_workbench.core_native import *  # noqa: F401,F403
from tinyai_workbench.core_native import __all__ as _core_all
from tinyai_workbench.core_native._core import __version__

__all__ = list(_core_all) + ["__version__"]
