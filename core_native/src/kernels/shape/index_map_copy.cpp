#include "kernels/shape/index_map_copy.h"

#include <cstring>

namespace tinyai {

namespace {

bool is_identity(const std::vector<int64_t>& map, int64_t src_dim) {
  if (static_cast<int64_t>(map.size()) != src_dim) return false;
  for (size_t i = 0; i < map.size(); ++i)
    if (map[i] != static_cast<int64_t>(i)) return false;
  return true;
}

void fill_elems(char* dst, int64_t n, const void* value, size_t elem) {
  switch (elem) {
    case 1: std::memset(dst, *static_cast<const uint8_t*>(value), static_cast<size_t>(n)); return;
    case 4: {
      uint32_t v;
      std::memcpy(&v, value, 4);
      auto* d = reinterpret_cast<uint32_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = v;
      return;
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, value, 8);
      auto* d = reinterpret_cast<uint64_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = v;
      return;
    }
    default:
      for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * static_cast<int64_t>(elem), value, elem);
  }
}

// One output row: block-sized units read from src at row[o] (or filled).
template <typename T>
void gather_row(const char* src, char* dst, const std::vector<int64_t>& row, const void* fill) {
  const T* s = reinterpret_cast<const T*>(src);
  T* d = reinterpret_cast<T*>(dst);
  T f{};
  if (fill) std::memcpy(&f, fill, sizeof(T));
  const size_t n = row.size();
  for (size_t o = 0; o < n; ++o) d[o] = row[o] < 0 ? f : s[row[o]];
}

// A row as runs of consecutive source units, so wide blocks copy with one memcpy per run.
struct Run {
  int64_t dst;
  int64_t src;  // -1: fill
  int64_t len;
};

std::vector<Run> row_runs(const std::vector<int64_t>& row) {
  std::vector<Run> runs;
  for (size_t o = 0; o < row.size(); ++o) {
    const int64_t m = row[o];
    if (!runs.empty()) {
      Run& r = runs.back();
      const bool extends = m < 0 ? r.src < 0 : (r.src >= 0 && m == r.src + r.len);
      if (extends) {
        ++r.len;
        continue;
      }
    }
    runs.push_back(Run{static_cast<int64_t>(o), m < 0 ? -1 : m, 1});
  }
  return runs;
}

}  // namespace

void index_map_copy(const void* src, const Shape& src_shape, void* dst,
                    const std::vector<std::vector<int64_t>>& maps, size_t elem_size,
                    const void* fill) {
  const size_t rank = maps.size();
  for (const auto& m : maps)
    if (m.empty()) return;
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);

  // Trailing axes copied unchanged fold into one wide unit.
  size_t k = rank;
  int64_t unit_elems = 1;
  while (k > 0 && is_identity(maps[k - 1], src_shape[k - 1])) {
    unit_elems *= src_shape[k - 1];
    --k;
  }
  const auto unit = static_cast<int64_t>(elem_size) * unit_elems;
  if (k == 0) {
    std::memcpy(d, s, static_cast<size_t>(unit));
    return;
  }

  // Source strides in units for axes [0, k).
  std::vector<int64_t> sstride(k, 1);
  for (size_t i = k - 1; i-- > 0;) sstride[i] = sstride[i + 1] * src_shape[i + 1];

  const std::vector<int64_t>& row = maps[k - 1];
  const auto row_len = static_cast<int64_t>(row.size());
  const bool typed = unit_elems == 1 && (elem_size == 1 || elem_size == 4 || elem_size == 8);
  const std::vector<Run> runs = typed ? std::vector<Run>() : row_runs(row);

  int64_t rows = 1;
  for (size_t j = 0; j + 1 < k; ++j) rows *= static_cast<int64_t>(maps[j].size());
  std::vector<int64_t> idx(k - 1, 0);
  for (int64_t r = 0; r < rows; ++r) {
    char* drow = d + r * row_len * unit;
    int64_t soff = 0;
    bool filled = false;
    for (size_t j = 0; j + 1 < k; ++j) {
      const int64_t m = maps[j][static_cast<size_t>(idx[j])];
      if (m < 0) filled = true;
      soff += m * sstride[j];
    }
    if (filled) {
      fill_elems(drow, row_len * unit_elems, fill, elem_size);
    } else {
      const char* srow = s + soff * unit;
      if (typed) {
        switch (elem_size) {
          case 1: gather_row<uint8_t>(srow, drow, row, fill); break;
          case 4: gather_row<uint32_t>(srow, drow, row, fill); break;
          default: gather_row<uint64_t>(srow, drow, row, fill); break;
        }
      } else {
        for (const Run& run : runs) {
          if (run.src < 0)
            fill_elems(drow + run.dst * unit, run.len * unit_elems, fill, elem_size);
          else
            std::memcpy(drow + run.dst * unit, srow + run.src * unit,
                        static_cast<size_t>(run.len * unit));
        }
      }
    }
    for (size_t j = k - 1; j-- > 0;) {
      if (++idx[j] < static_cast<int64_t>(maps[j].size())) break;
      idx[j] = 0;
    }
  }
}

}  // namespace tinyai
