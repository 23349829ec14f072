// The op registry and the helpers every kernel shares.
#include <algorithm>
#include <map>
#include <mutex>

#include "tinyai/op.h"

namespace tinyai {

namespace {
std::map<std::string, KernelFactory>& registry() {
  static std::map<std::string, KernelFactory> r;  // filled by static registrars
  return r;
}
}  // namespace

void register_kernel(const std::string& op_type, KernelFactory factory) {
  registry()[op_type] = std::move(factory);
}

bool has_kernel(const std::string& op_type) { return registry().count(op_type) != 0; }

std::unique_ptr<OpKernel> create_kernel(const Node& node) {
  auto it = registry().find(node.op_type);
  if (it == registry().end())
    throw UnsupportedOperatorError(node.op_type, node.name, "no kernel for this operator");
  return it->second(node);
}

std::vector<std::string> registered_op_types() {
  std::vector<std::string> out;
  for (const auto& kv : registry()) out.push_back(kv.first);
  return out;
}

bool KernelContext::output_wanted(size_t i) const { return i < wanted_.size() && wanted_[i]; }

void KernelContext::fail(const std::string& msg) const {
  throw ExecutionError(node_->op_type + " node '" + node_->name + "': " + msg);
}

void KernelContext::unsupported(const std::string& msg) const {
  throw UnsupportedOperatorError(node_->op_type, node_->name, msg);
}

void require_dtype(const Node& node, const Tensor& t, std::initializer_list<DType> allowed,
                   const char* what) {
  if (std::find(allowed.begin(), allowed.end(), t.dtype) != allowed.end()) return;
  std::string list;
  for (DType d : allowed) list += (list.empty() ? "" : ", ") + std::string(dtype_name(d));
  throw UnsupportedOperatorError(node.op_type, node.name,
                                 std::string(what) + " has dtype " + dtype_name(t.dtype) +
                                     "; supported: " + list);
}

int64_t normalize_axis(const Node& node, int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= std::max<int64_t>(rank, 1))
    throw ModelError(node.op_type + " node '" + node.name + "': axis " + std::to_string(axis) +
                     " is out of range for rank " + std::to_string(rank));
  return a;
}

std::vector<int64_t> tensor_to_int64s(const Tensor& t) {
  const int64_t n = t.numel();
  std::vector<int64_t> out(static_cast<size_t>(n));
  switch (t.dtype) {
    case DType::Int64: std::copy(t.ptr<int64_t>(), t.ptr<int64_t>() + n, out.begin()); break;
    case DType::Int32: std::copy(t.ptr<int32_t>(), t.ptr<int32_t>() + n, out.begin()); break;
    case DType::Bool:
      for (int64_t i = 0; i < n; ++i) out[i] = t.ptr<uint8_t>()[i] ? 1 : 0;
      break;
    case DType::Float32:
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int64_t>(t.ptr<float>()[i]);
      break;
  }
  return out;
}

Shape broadcast_shapes(const Node& node, const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ModelError(node.op_type + " node '" + node.name + "': shapes " + shape_str(a) +
                       " and " + shape_str(b) + " cannot be broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace tinyai
