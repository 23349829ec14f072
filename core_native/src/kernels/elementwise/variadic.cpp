// Max, Min, Sum, Mean over any number of broadcasting inputs: a left fold of the binary
// broadcast loop into the output (the output has the full broadcast shape, so folding the
// next operand into it is a same-shape-plus-broadcast step).
#include <cstring>

#include "kernels/elementwise/binary_kernel.h"
#include "kernels/elementwise/unary_kernel.h"

namespace tinyai {
namespace {

struct MaxOp {
  static constexpr unsigned kTypes = kNumeric;
  static constexpr bool kMean = false;
  template <class T> T operator()(T a, T b) const { return a < b ? b : a; }
};
struct MinOp {
  static constexpr unsigned kTypes = kNumeric;
  static constexpr bool kMean = false;
  template <class T> T operator()(T a, T b) const { return b < a ? b : a; }
};
struct SumOp {
  static constexpr unsigned kTypes = kF32;
  static constexpr bool kMean = false;
  float operator()(float a, float b) const { return a + b; }
};
struct MeanOp : SumOp {
  static constexpr bool kMean = true;
};

template <class F>
class VariadicKernel final : public OpKernel {
 public:
  explicit VariadicKernel(const Node&) {}

  void run(KernelContext& ctx) override {
    const Node& node = ctx.node();
    std::vector<const Tensor*> ins;
    std::vector<const Shape*> shapes;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Tensor* t = ctx.input(i);
      if (!t) continue;
      require_dtype_in(node, t->dtype, F::kTypes, "input");
      if (!ins.empty() && t->dtype != ins[0]->dtype)
        ctx.unsupported(std::string("inputs have different dtypes (") +
                        dtype_name(ins[0]->dtype) + " and " + dtype_name(t->dtype) + ")");
      ins.push_back(t);
      shapes.push_back(&t->shape);
    }
    if (ins.empty()) ctx.fail("needs at least one input");
    const Shape out_shape = broadcast_all(node, shapes);
    visit_dtype<F::kTypes>(ins[0]->dtype, [&](auto tag) {
      using T = decltype(tag);
      Tensor& out = ctx.output(0, ins[0]->dtype, out_shape);
      T* o = out.ptr<T>();
      if (ins.size() == 1) {
        std::memcpy(o, ins[0]->data, out.nbytes());
      } else {
        binary_broadcast(f_, ins[0]->ptr<T>(), ins[0]->shape, ins[1]->ptr<T>(), ins[1]->shape,
                         o, out_shape, ctx.pool());
        for (size_t k = 2; k < ins.size(); ++k)
          binary_broadcast(f_, static_cast<const T*>(o), out_shape, ins[k]->ptr<T>(),
                           ins[k]->shape, o, out_shape, ctx.pool());
      }
      if constexpr (F::kMean) {
        const T count = static_cast<T>(ins.size());
        unary_run([count](T v) { return v / count; }, o, o, out.numel());
      }
    });
  }

 private:
  F f_{};
};

}  // namespace

TINYAI_REGISTER_KERNEL("Max", VariadicKernel<MaxOp>);
TINYAI_REGISTER_KERNEL("Min", VariadicKernel<MinOp>);
TINYAI_REGISTER_KERNEL("Sum", VariadicKernel<SumOp>);
TINYAI_REGISTER_KERNEL("Mean", VariadicKernel<MeanOp>);

}  // namespace tinyai
