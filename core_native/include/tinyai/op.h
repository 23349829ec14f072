// The kernel interface. One OpKernel instance per graph node, created when a session is
// prepared: the constructor parses and validates attributes (throwing
// UnsupportedOperatorError for anything it does not implement); run() computes output shapes
// from the actual inputs, asks the context for outputs and fills them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tinyai/config.h"
#include "tinyai/errors.h"
#include "tinyai/graph.h"
#include "tinyai/memory.h"
#include "tinyai/tensor.h"

namespace tinyai {

class ThreadPool;

// A constant input too large for the weight budget, handed out in pieces of whole rows of its
// first dimension (a Gemm/MatMul weight). The kernel acquires piece j, computes with it and
// releases it before the next; the loader prefetches piece j+1 meanwhile. The input's Tensor
// has the full shape but no data.
class StreamedInput {
 public:
  virtual ~StreamedInput() = default;
  virtual size_t num_pieces() const = 0;
  // Rows [first, second) of the full tensor that piece j holds.
  virtual std::pair<int64_t, int64_t> piece_rows(size_t j) const = 0;
  // Blocks until piece j is resident; the pointer stays valid until release(j).
  virtual const void* acquire(size_t j) = 0;
  virtual void release(size_t j) = 0;
};

class KernelContext {
 public:
  virtual ~KernelContext() = default;
  const Node& node() const { return *node_; }
  size_t num_inputs() const { return inputs_.size(); }
  // nullptr when the optional input is omitted (or index past the end).
  const Tensor* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  // Non-null when input i is streamed in pieces (its Tensor then has no data). Only kernels
  // that support it (Gemm and MatMul weights) are ever given one.
  virtual StreamedInput* streamed_input(size_t /*i*/) const { return nullptr; }
  size_t num_outputs() const { return num_outputs_; }
  bool output_wanted(size_t i) const;

  // Allocate output i (activation memory). The returned tensor is uninitialised.
  virtual Tensor& output(size_t i, DType dtype, const Shape& shape) = 0;
  // Output i is a view of input j with a new shape (same element count): no copy.
  virtual Tensor& output_alias(size_t i, size_t input_index, const Shape& shape) = 0;
  // Scratch memory for the duration of this node (im2col, packed panels, ...).
  virtual void* scratch(size_t bytes) = 0;
  // A tracked buffer (Weight memory, counted against the budget) the kernel may keep across
  // runs for data derived only from constant input `from_input`: packed weights. Null when the
  // session keeps no such copies (see keep_packed_weights in config.h) or that input is not a
  // resident constant; the kernel then does the work per run. The kernel owns the buffer and
  // must drop it in drop_persistent().
  virtual BufferPtr persistent(size_t bytes, size_t from_input) {
    (void)bytes;
    (void)from_input;
    return nullptr;
  }

  // The session's configuration in effect for this run (SIMD level, cache blocking, ...).
  const SessionConfig& config() const { return *config_; }
  // Intra-op worker pool; null means run single-threaded.
  ThreadPool* pool() const { return pool_; }
  void set_runtime(const SessionConfig* config, ThreadPool* pool) {
    config_ = config;
    pool_ = pool;
  }

  // Throw with the node named, for data-dependent failures inside a kernel.
  [[noreturn]] void fail(const std::string& msg) const;
  [[noreturn]] void unsupported(const std::string& msg) const;

 protected:
  const Node* node_ = nullptr;
  std::vector<const Tensor*> inputs_;
  size_t num_outputs_ = 0;
  std::vector<bool> wanted_;
  const SessionConfig* config_ = &default_config();
  ThreadPool* pool_ = nullptr;

 private:
  static const SessionConfig& default_config() {
    static const SessionConfig c;
    return c;
  }
};

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  virtual void run(KernelContext& ctx) = 0;
  // Free what persistent() handed out: the session's settings no longer allow keeping it.
  virtual void drop_persistent() {}
};

using KernelFactory = std::function<std::unique_ptr<OpKernel>(const Node&)>;

// Registry keyed by ONNX op type (default domain).
void register_kernel(const std::string& op_type, KernelFactory factory);
bool has_kernel(const std::string& op_type);
std::unique_ptr<OpKernel> create_kernel(const Node& node);  // throws UnsupportedOperatorError
std::vector<std::string> registered_op_types();

struct KernelRegistrar {
  KernelRegistrar(const char* op_type, KernelFactory f) { register_kernel(op_type, std::move(f)); }
};

#define TINYAI_CONCAT_INNER(a, b) a##b
#define TINYAI_CONCAT(a, b) TINYAI_CONCAT_INNER(a, b)
// Register a kernel class constructible from `const Node&`.
#define TINYAI_REGISTER_KERNEL(OP_TYPE, CLASS)                                             \
  static ::tinyai::KernelRegistrar TINYAI_CONCAT(tinyai_kernel_registrar_, __COUNTER__)( \
      OP_TYPE, [](const ::tinyai::Node& n) -> std::unique_ptr<::tinyai::OpKernel> {    \
        return std::make_unique<CLASS>(n);                                               \
      })

// Helpers every kernel needs.
// Throws UnsupportedOperatorError unless `t` has one of the listed dtypes.
void require_dtype(const Node& node, const Tensor& t, std::initializer_list<DType> allowed,
                   const char* what);
// Normalise a possibly negative axis against `rank`; throws ModelError if out of range.
int64_t normalize_axis(const Node& node, int64_t axis, int64_t rank);
// Read an int64/int32 tensor's values as int64 (shape inputs, axes, indices).
std::vector<int64_t> tensor_to_int64s(const Tensor& t);
// Numpy-style broadcast of two shapes; throws ModelError naming the node when incompatible.
Shape broadcast_shapes(const Node& node, const Shape& a, const Shape& b);

}  // namespace tinyai
