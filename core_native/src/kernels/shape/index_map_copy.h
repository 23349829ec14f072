// Per-axis index-map copy: each output coordinate along axis d reads source coordinate
// maps[d][o] (or the fill value when that is -1). Pad (all modes, incl. negative pads) and
// nearest-neighbour Resize are exactly this.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tinyai/tensor.h"

namespace tinyai {

// Output shape is {maps[0].size(), ..., maps[r-1].size()}; src is contiguous with
// `src_shape`; `fill` points at one element (may be null if no map contains -1).
void index_map_copy(const void* src, const Shape& src_shape, void* dst,
                    const std::vector<std::vector<int64_t>>& maps, size_t elem_size,
                    const void* fill);

}  // namespace tinyai
