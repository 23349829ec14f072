// Exceptions the core throws. Each maps to one Python exception class (see bindings/module.cpp);
// messages are written for the user: they say what is wrong and what to do.
#pragma once
#include <stdexcept>
#include <string>

namespace tinyai {

// The model file, graph or weights file is malformed, truncated or inconsistent.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An operator (or an attribute/dtype combination of it) the core does not implement.
class UnsupportedOperatorError : public ModelError {
 public:
  UnsupportedOperatorError(std::string op_type, std::string node_name, const std::string& detail)
      : ModelError("unsupported operator " + op_type + " (node '" + node_name + "')" +
                   (detail.empty() ? std::string() : ": " + detail)),
        op_type_(std::move(op_type)),
        node_name_(std::move(node_name)) {}
  const std::string& op_type() const { return op_type_; }
  const std::string& node_name() const { return node_name_; }

 private:
  std::string op_type_;
  std::string node_name_;
};

// The caller passed inputs that do not match the model (name, dtype, rank, dimension).
class InputError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// No plan fits the requested memory budget; carries the smallest budget that would.
class BudgetError : public std::runtime_error {
 public:
  BudgetError(const std::string& msg, size_t minimum_bytes)
      : std::runtime_error(msg), minimum_bytes_(minimum_bytes) {}
  size_t minimum_bytes() const { return minimum_bytes_; }

 private:
  size_t minimum_bytes_;
};

// A kernel failed at run time on data the graph allowed (e.g. an out-of-range index).
class ExecutionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The run was stopped by Session::cancel() at a layer boundary.
class CancelledError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tinyai
