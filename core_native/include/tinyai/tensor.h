// Tensors: a dtype, a shape and a pointer into a (possibly shared) Buffer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tinyai/memory.h"

namespace tinyai {

// Values are the ONNX TensorProto.DataType codes so the importer and core agree trivially.
enum class DType : int32_t { Float32 = 1, Int32 = 6, Int64 = 7, Bool = 9 };

using Shape = std::vector<int64_t>;

size_t dtype_size(DType dt);
const char* dtype_name(DType dt);
bool dtype_from_onnx(int32_t code, DType* out);  // false for dtypes the core does not support
std::string onnx_dtype_name(int32_t code);       // for error messages about unsupported dtypes
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);

struct Tensor {
  DType dtype = DType::Float32;
  Shape shape;
  void* data = nullptr;  // points into `buffer` (or into caller memory when buffer is null)
  BufferPtr buffer;      // keeps the storage alive; shared by views (Reshape, Squeeze, ...)

  int64_t numel() const { return shape_numel(shape); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t dim(int64_t i) const { return shape[static_cast<size_t>(i < 0 ? i + rank() : i)]; }
  template <typename T> T* ptr() { return static_cast<T*>(data); }
  template <typename T> const T* ptr() const { return static_cast<const T*>(data); }
};

using TensorPtr = std::shared_ptr<Tensor>;

}  // namespace tinyai
