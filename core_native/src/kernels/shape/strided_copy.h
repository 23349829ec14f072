// The one N-D copy behind Transpose, Slice, Concat, Split, Tile, Expand and
// DepthToSpace/SpaceToDepth: every op that moves elements without computing on them reduces
// to "walk `shape`, read at src strides, write at dst strides".
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tinyai/tensor.h"

namespace tinyai {

class ThreadPool;

// For every multi-index i < shape: dst[sum(i*dst_strides)] = src[sum(i*src_strides)].
// Strides are in elements of `elem_size` bytes; src strides may be zero (broadcast) or
// negative (reversed slice). Adjacent mergeable dims are collapsed first, so contiguous runs
// become memcpy and inner 2-D transposes (NCHW<->NHWC, matrix transpose) go through a
// cache-blocked tile loop.
void strided_copy(const void* src, const std::vector<int64_t>& src_strides, void* dst,
                  const std::vector<int64_t>& dst_strides, const Shape& shape, size_t elem_size);

// The same copy split over `pool` (null or one thread: the plain copy) when it is large:
// disjoint blocks of the outer dims go to different threads, so the result is identical.
void strided_copy(const void* src, const std::vector<int64_t>& src_strides, void* dst,
                  const std::vector<int64_t>& dst_strides, const Shape& shape, size_t elem_size,
                  ThreadPool* pool);

}  // namespace tinyai
