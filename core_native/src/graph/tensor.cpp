#include <sstream>

#include "tinyai/tensor.h"

namespace tinyai {

size_t dtype_size(DType dt) {
  switch (dt) {
    case DType::Float32: return 4;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::Float32: return "float32";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

bool dtype_from_onnx(int32_t code, DType* out) {
  switch (code) {
    case 1: *out = DType::Float32; return true;
    case 6: *out = DType::Int32; return true;
    case 7: *out = DType::Int64; return true;
    case 9: *out = DType::Bool; return true;
    default: return false;
  }
}

std::string onnx_dtype_name(int32_t code) {
  static const char* names[] = {"undefined", "float32", "uint8", "int8", "uint16", "int16",
                                "int32", "int64", "string", "bool", "float16", "float64",
                                "uint32", "uint64", "complex64", "complex128", "bfloat16"};
  if (code >= 0 && code < static_cast<int32_t>(sizeof(names) / sizeof(names[0])))
    return names[code];
  return "dtype#" + std::to_string(code);
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

}  // namespace tinyai
