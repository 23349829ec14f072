// Where(cond, X, Y): three-way broadcast select; X and Y may have any (matching) dtype.
#include "kernels/elementwise/broadcast.h"
#include "kernels/elementwise/dtype_dispatch.h"

namespace tinyai {
namespace {

template <class T>
void where_run(const uint8_t* c, int64_t sc, const T* x, int64_t sx, const T* y, int64_t sy,
               T* o, int64_t n) {
  if (sc == 1 && sx == 1 && sy == 1) {  // the common same-shape case, vectorisable
    for (int64_t i = 0; i < n; ++i) o[i] = c[i] ? x[i] : y[i];
    return;
  }
  for (int64_t i = 0; i < n; ++i) o[i] = c[i * sc] ? x[i * sx] : y[i * sy];
}

class WhereKernel final : public OpKernel {
 public:
  explicit WhereKernel(const Node&) {}

  void run(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor* c = ctx.input(0);
    const Tensor* x = ctx.input(1);
    const Tensor* y = ctx.input(2);
    if (!c || !x || !y) ctx.fail("needs three inputs");
    require_dtype_in(node, c->dtype, kBool, "condition");
    if (x->dtype != y->dtype)
      ctx.unsupported(std::string("X and Y have different dtypes (") + dtype_name(x->dtype) +
                      " and " + dtype_name(y->dtype) + ")");
    const Shape out_shape = broadcast_all(node, {&c->shape, &x->shape, &y->shape});
    const BroadcastPlan plan = plan_broadcast(out_shape, {&c->shape, &x->shape, &y->shape});
    Tensor& out = ctx.output(0, x->dtype, out_shape);
    visit_dtype<kAllDTypes>(x->dtype, [&](auto tag) {
      using T = decltype(tag);
      const uint8_t* cp = c->ptr<uint8_t>();
      const T* xp = x->ptr<T>();
      const T* yp = y->ptr<T>();
      T* op = out.ptr<T>();
      for_each_inner_run(plan, [&](const std::array<int64_t, kMaxBroadcastOperands>& off,
                                   int64_t out_off, int64_t n) {
        where_run(cp + off[0], plan.inner_stride(0), xp + off[1], plan.inner_stride(1),
                  yp + off[2], plan.inner_stride(2), op + out_off, n);
      });
    });
  }
};

}  // namespace

TINYAI_REGISTER_KERNEL("Where", WhereKernel);

}  // namespace tinyai
