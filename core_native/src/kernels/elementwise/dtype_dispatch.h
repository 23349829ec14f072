// Compile-time dtype sets and the switch from a runtime DType to a C++ element type.
// bool tensors are handled as uint8_t (a byte that is 0 or 1) so that loading a byte written
// by someone else can never be an invalid `bool` value.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>

#include "tinyai/op.h"

namespace tinyai {

enum DTypeBits : unsigned { kF32 = 1u, kI32 = 2u, kI64 = 4u, kBool = 8u };
constexpr unsigned kInts = kI32 | kI64;
constexpr unsigned kNumeric = kF32 | kInts;
constexpr unsigned kAllDTypes = kNumeric | kBool;

constexpr unsigned dtype_bit(DType dt) {
  switch (dt) {
    case DType::Float32: return kF32;
    case DType::Int32: return kI32;
    case DType::Int64: return kI64;
    case DType::Bool: return kBool;
  }
  return 0;
}

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::Bool; }

// Element type a functor's result is stored as: bool results become uint8_t bytes.
template <class R> using storage_t = std::conditional_t<std::is_same_v<R, bool>, uint8_t, R>;

inline std::string dtype_list(unsigned mask) {
  std::string s;
  for (DType d : {DType::Float32, DType::Int32, DType::Int64, DType::Bool})
    if (mask & dtype_bit(d)) s += (s.empty() ? "" : ", ") + std::string(dtype_name(d));
  return s;
}

// Throws UnsupportedOperatorError naming the dtype unless it is in `mask`.
inline void require_dtype_in(const Node& node, DType dt, unsigned mask, const char* what) {
  if (dtype_bit(dt) & mask) return;
  throw UnsupportedOperatorError(node.op_type, node.name,
                                 std::string(what) + " has dtype " + dtype_name(dt) +
                                     "; supported: " + dtype_list(mask));
}

// Calls f(T{}) with T the storage type of `dt`; dtypes outside Mask are never instantiated
// (callers check with require_dtype_in first; an unchecked one is silently skipped).
template <unsigned Mask, class F>
void visit_dtype(DType dt, F&& f) {
  switch (dt) {
    case DType::Float32:
      if constexpr ((Mask & kF32) != 0) f(float{});
      break;
    case DType::Int32:
      if constexpr ((Mask & kI32) != 0) f(int32_t{});
      break;
    case DType::Int64:
      if constexpr ((Mask & kI64) != 0) f(int64_t{});
      break;
    case DType::Bool:
      if constexpr ((Mask & kBool) != 0) f(uint8_t{});
      break;
  }
}

// Signed integer arithmetic that wraps like the hardware instead of being undefined
// behaviour (models computing shapes never overflow, but a fuzzed input must not be UB).
template <class T> T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) +
                          static_cast<std::make_unsigned_t<T>>(b));
  else
    return a + b;
}
template <class T> T wrap_sub(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) -
                          static_cast<std::make_unsigned_t<T>>(b));
  else
    return a - b;
}
template <class T> T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<std::make_unsigned_t<T>>(a) *
                          static_cast<std::make_unsigned_t<T>>(b));
  else
    return a * b;
}

}  // namespace tinyai
