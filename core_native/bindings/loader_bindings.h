// Conversions the loader binding shares with other binding files (e.g. a Session's stats).
#pragma once
#include <pybind11/pybind11.h>

#include "tinyai/progressive_loader.h"

// The loader's stats as a dict: counters, per-layer lists, window, storage label.
pybind11::dict loader_stats_dict(const tinyai::LoaderStats& s);

void bind_loader(pybind11::module_& m);
