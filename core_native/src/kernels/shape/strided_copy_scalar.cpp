// Scalar implementation of strided_copy. A SIMD variant would replace the row and tile
// kernels below; the dim simplification and outer walk are ISA independent.
#include <algorithm>
#include <cstring>

#include "kernels/shape/strided_copy.h"
#include "tinyai/thread_pool.h"

namespace tinyai {

namespace {

struct Dim {
  int64_t n;   // extent
  int64_t ss;  // src stride (elements)
  int64_t ds;  // dst stride (elements)
};

// Drops extent-1 dims and merges neighbours that address memory as one longer dim.
std::vector<Dim> simplify(const Shape& shape, const std::vector<int64_t>& ss,
                          const std::vector<int64_t>& ds) {
  std::vector<Dim> out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    const Dim x{shape[i], ss[i], ds[i]};
    if (!out.empty() && out.back().ss == x.ss * x.n && out.back().ds == x.ds * x.n)
      out.back() = Dim{out.back().n * x.n, x.ss, x.ds};
    else
      out.push_back(x);
  }
  return out;
}

template <typename T>
void copy_row(const char* src, int64_t ss, char* dst, int64_t ds, int64_t n) {
  const T* s = reinterpret_cast<const T*>(src);
  T* d = reinterpret_cast<T*>(dst);
  if (ss == 1 && ds == 1) {
    std::memcpy(d, s, static_cast<size_t>(n) * sizeof(T));
  } else if (ss == 0 && ds == 1) {
    const T v = *s;
    for (int64_t i = 0; i < n; ++i) d[i] = v;
  } else if (ds == 1) {
    for (int64_t i = 0; i < n; ++i) d[i] = s[i * ss];
  } else {
    for (int64_t i = 0; i < n; ++i) d[i * ds] = s[i * ss];
  }
}

// dst[a*da + b] = src[a + b*sb] for a < na, b < nb: a transpose whose reads are contiguous
// along a and writes contiguous along b. Square tiles keep both sides in L1.
template <typename T>
void transpose_tile(const char* src, int64_t sb, char* dst, int64_t da, int64_t na, int64_t nb) {
  constexpr int64_t kTile = 64 / sizeof(T) < 8 ? 8 : 64 / sizeof(T);
  const T* s = reinterpret_cast<const T*>(src);
  T* d = reinterpret_cast<T*>(dst);
  for (int64_t a0 = 0; a0 < na; a0 += kTile) {
    const int64_t a1 = a0 + kTile < na ? a0 + kTile : na;
    for (int64_t b0 = 0; b0 < nb; b0 += kTile) {
      const int64_t b1 = b0 + kTile < nb ? b0 + kTile : nb;
      for (int64_t a = a0; a < a1; ++a) {
        T* drow = d + a * da;
        const T* scol = s + a;
        for (int64_t b = b0; b < b1; ++b) drow[b] = scol[b * sb];
      }
    }
  }
}

template <typename T>
void copy_typed(const char* src, char* dst, const std::vector<Dim>& dims) {
  if (dims.empty()) {
    std::memcpy(dst, src, sizeof(T));
    return;
  }
  const size_t r = dims.size();
  const Dim& in = dims[r - 1];
  const bool tile = r >= 2 && in.ds == 1 && in.ss != 1 && in.ss != 0 && dims[r - 2].ss == 1;
  const size_t outer = r - (tile ? 2 : 1);

  int64_t count = 1;
  for (size_t j = 0; j < outer; ++j) count *= dims[j].n;
  std::vector<int64_t> idx(outer, 0);
  // Offsets in elements, kept as integers so no pointer ever leaves its object.
  int64_t so = 0, dof = 0;
  for (int64_t it = 0; it < count; ++it) {
    const char* s = src + so * static_cast<int64_t>(sizeof(T));
    char* d = dst + dof * static_cast<int64_t>(sizeof(T));
    if (tile)
      transpose_tile<T>(s, in.ss, d, dims[r - 2].ds, dims[r - 2].n, in.n);
    else
      copy_row<T>(s, in.ss, d, in.ds, in.n);
    for (size_t j = outer; j-- > 0;) {
      so += dims[j].ss;
      dof += dims[j].ds;
      if (++idx[j] < dims[j].n) break;
      so -= dims[j].ss * dims[j].n;
      dof -= dims[j].ds * dims[j].n;
      idx[j] = 0;
    }
  }
}

// Below this many elements a copy stays on the calling thread: a worker's wake-up costs
// about as much as copying this much (a BERT-base head transpose is 98K floats).
constexpr int64_t kMinParallelCopyElements = 1 << 16;

// The copy of `dims` with elements of `elem_size` bytes, at byte pointers.
void copy_dims(const char* s, char* d, const std::vector<Dim>& dims, size_t elem_size) {
  switch (elem_size) {
    case 1: copy_typed<uint8_t>(s, d, dims); break;
    case 2: copy_typed<uint16_t>(s, d, dims); break;
    case 4: copy_typed<uint32_t>(s, d, dims); break;
    case 8: copy_typed<uint64_t>(s, d, dims); break;
    default: {
      // Not a dtype size: treat each element as elem_size bytes in a trailing dim.
      std::vector<Dim> bytes = dims;
      const auto es = static_cast<int64_t>(elem_size);
      for (Dim& x : bytes) {
        x.ss *= es;
        x.ds *= es;
      }
      bytes.push_back(Dim{es, 1, 1});
      copy_typed<uint8_t>(s, d, bytes);
    }
  }
}

// Splits the copy into tasks over its leading dims (the fewest that give every thread a few
// tasks, never the dims copy_typed walks inside one row or tile). A copy with no such dim (one
// run, or one 2-D transpose) is split into ranges of its first dim instead, which keeps the
// transpose tiled. Each task copies a disjoint part of dst.
void copy_dims_parallel(const char* s, char* d, const std::vector<Dim>& dims, size_t elem_size,
                        int64_t total, ThreadPool& pool) {
  const auto es = static_cast<int64_t>(elem_size);
  const size_t r = dims.size();
  const Dim& in = dims[r - 1];
  const bool tile = r >= 2 && in.ds == 1 && in.ss != 1 && in.ss != 0 && dims[r - 2].ss == 1;
  const size_t walkable = r - (tile ? 2 : 1);
  if (walkable == 0) {
    const Dim first = dims[0];
    const int64_t grain = std::max<int64_t>(1, (kMinParallelCopyElements / 2) / (total / first.n));
    pool.parallel_for(first.n, grain, [&](int64_t i0, int64_t i1) {
      std::vector<Dim> part = dims;
      part[0].n = i1 - i0;
      copy_dims(s + i0 * first.ss * es, d + i0 * first.ds * es, part, elem_size);
    });
    return;
  }
  const int64_t want = 4 * static_cast<int64_t>(pool.size());
  size_t lead = 0;
  int64_t tasks = 1;
  while (lead < walkable && tasks < want) tasks *= dims[lead++].n;
  const std::vector<Dim> rest(dims.begin() + static_cast<std::ptrdiff_t>(lead), dims.end());
  const int64_t grain = std::max<int64_t>(1, (kMinParallelCopyElements / 2) / (total / tasks));
  pool.parallel_for(tasks, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t so = 0, dof = 0, rem = t;
      for (size_t j = lead; j-- > 0;) {  // task index -> offsets along the leading dims
        const int64_t idx = rem % dims[j].n;
        rem /= dims[j].n;
        so += idx * dims[j].ss;
        dof += idx * dims[j].ds;
      }
      copy_dims(s + so * es, d + dof * es, rest, elem_size);
    }
  });
}

}  // namespace

void strided_copy(const void* src, const std::vector<int64_t>& src_strides, void* dst,
                  const std::vector<int64_t>& dst_strides, const Shape& shape, size_t elem_size) {
  strided_copy(src, src_strides, dst, dst_strides, shape, elem_size, nullptr);
}

void strided_copy(const void* src, const std::vector<int64_t>& src_strides, void* dst,
                  const std::vector<int64_t>& dst_strides, const Shape& shape, size_t elem_size,
                  ThreadPool* pool) {
  int64_t total = 1;
  for (int64_t d : shape) total *= d;
  if (total == 0) return;
  const std::vector<Dim> dims = simplify(shape, src_strides, dst_strides);
  const char* s = static_cast<const char*>(src);
  char* d = static_cast<char*>(dst);
  if (pool && pool->size() > 1 && total >= kMinParallelCopyElements && !dims.empty())
    copy_dims_parallel(s, d, dims, elem_size, total, *pool);
  else
    copy_dims(s, d, dims, elem_size);
}

}  // namespace tinyai
