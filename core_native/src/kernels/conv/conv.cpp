// Conv (1-D, 2-D, 3-D; groups, dilations, strides, pads, auto_pad, optional bias).
// Converted models may add what the importer fused into a Conv (importer/conv_fusion.py):
// an optional 4th input Z shaped like the output (a residual Add) and an `activation`
// (Relu); Y = act(conv(X, W) + B + Z), applied as each output is stored.
// Three paths: groups with one input channel (depthwise) convolve directly; 1x1 / stride 1 /
// unpadded kernels are a GEMM on the input as is; everything else is im2col + GEMM per group:
// the vector GEMMs pack patches straight into their B panels as they go (2-D kernels from a
// padded, stride-phase-split copy of the image, padded_grid.h), the scalar reference reads a
// column matrix chunked over output positions so it stays bounded.
#include <algorithm>
#include <vector>

#include "kernels/conv/conv_attributes.h"
#include "kernels/conv/im2col.h"
#include "kernels/conv/padded_grid.h"
#include "kernels/matmul/gemm.h"
#include "tinyai/op.h"
#include "tinyai/thread_pool.h"

namespace tinyai {

namespace {

// Below this many element operations a loop stays on the calling thread.
constexpr int64_t kMinParallelWork = 1 << 15;
// Larger weight matrices are packed block by block as the GEMM goes (bounded scratch).
constexpr size_t kMaxPackedWeightBytes = size_t{64} << 20;

class Conv final : public OpKernel {
 public:
  explicit Conv(const Node& node) : attrs_(node, /*transpose=*/false) {}

  void run(KernelContext& ctx) override {
    const ConvOperands in = attrs_.operands(ctx);
    const Tensor* x = &in.x;
    const Tensor* w = &in.w;
    const Tensor* b = in.b;
    const PatchGeometry geo = attrs_.conv_geometry(ctx, x->shape, w->shape);

    const int64_t batch = x->dim(0), channels = x->dim(1), maps = w->dim(0);
    ConvAttributes::check_bias(ctx, b, maps);
    Shape out_shape{batch, maps};
    for (int64_t i = 3 - (x->rank() - 2); i < 3; ++i) out_shape.push_back(geo.grid[i]);
    const Tensor* z = ctx.input(3);
    if (z) {
      require_dtype(ctx.node(), *z, {DType::Float32}, "fused addend Z");
      if (z->shape != out_shape)
        ctx.fail("fused addend Z " + shape_str(z->shape) + " should have the output's shape " +
                 shape_str(out_shape));
    }
    Tensor& y = ctx.output(0, DType::Float32, out_shape);
    if (y.numel() == 0) return;

    const Problem p{geo,
                    attrs_.group(),
                    channels / attrs_.group(),
                    maps / attrs_.group(),
                    batch,
                    x->ptr<float>(),
                    w->ptr<float>(),
                    b ? b->ptr<float>() : nullptr,
                    y.ptr<float>(),
                    z ? z->ptr<float>() : nullptr,
                    attrs_.activation()};
    if (p.group_channels == 0 || geo.image_size() == 0) {  // every tap reads padding
      for (int64_t n = 0; n < batch; ++n)
        fill_with_bias(p.y + n * maps * geo.grid_size(), maps, geo.grid_size(), p.bias);
      GemmEpilogue ep;
      ep.addend = p.z;
      ep.activation = p.activation;
      apply_epilogue(p.y, geo.grid_size(), batch * maps, geo.grid_size(), ep);
      return;
    }
    if (p.group_channels == 1)
      run_depthwise(ctx, p);
    else
      run_gemm(ctx, p);
  }

 private:
  struct Problem {
    PatchGeometry geo;
    int64_t groups, group_channels, group_maps, batch;
    const float* x;
    const float* w;
    const float* bias;
    float* y;
    const float* z;             // fused residual addend, laid out like y (or null)
    GemmActivation activation;  // fused at import: applied as each output is stored
  };

  // One plane per task: output channels (and images) are independent.
  static void run_depthwise(KernelContext& ctx, const Problem& p) {
    const int64_t ksize = p.geo.kernel_size(), in_plane = p.geo.image_size(),
                  out_plane = p.geo.grid_size(), maps = p.groups * p.group_maps;
    const Isa isa = select_isa(ctx.config(), SimdOp::Conv);
    auto planes = [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n = t / maps, m = t % maps, g = m / p.group_maps;
        float* out = p.y + (n * maps + m) * out_plane;
        depthwise_conv(isa, p.geo, p.x + (n * p.groups + g) * in_plane, p.w + m * ksize,
                       p.bias ? p.bias[m] : 0.f, out);
        // The plane is still in cache: addend and activation cost no extra pass over memory.
        GemmEpilogue ep;
        ep.addend = p.z ? p.z + (n * maps + m) * out_plane : nullptr;
        ep.activation = p.activation;
        apply_epilogue(out, out_plane, 1, out_plane, ep);
      }
    };
    const int64_t tasks = p.batch * maps;
    if (ctx.pool() && tasks * out_plane * ksize >= kMinParallelWork)
      ctx.pool()->parallel_for(tasks, 1, planes);
    else
      planes(0, tasks);
  }

  void run_gemm(KernelContext& ctx, const Problem& p) {
    const int64_t K = p.group_channels * p.geo.kernel_size();
    const int64_t in_plane = p.geo.image_size(), out_plane = p.geo.grid_size();
    const int64_t channels = p.groups * p.group_channels, maps = p.groups * p.group_maps;
    const GemmRuntime rt = gemm_runtime(ctx, SimdOp::Conv);
    const bool direct = p.geo.is_identity();
    // Vector GEMMs take the patches straight into their packed panels; the scalar reference
    // reads a column matrix, built in bounded chunks of output positions.
    const bool panels = !direct && sgemm_takes_b_packer(rt);
    // 2-D kernels pack from a padded, stride-phase-split copy of the image (padded_grid.h),
    // unless its extra columns would cost whole GEMM panels (small images: 13x13 at 3x3).
    if (panels && !p.z && PaddedGrid::applies(p.geo)) {
      const PaddedGrid grid = PaddedGrid::plan(p.geo, p.group_channels, p.group_maps);
      if (grid.fills_panels(gemm_plan_info(rt).nr)) {
        run_padded_grid(ctx, rt, p, K, grid);
        return;
      }
    }
    const int64_t chunk = direct || panels ? out_plane : column_chunk(K, out_plane);
    float* col = direct || panels ? nullptr
                                  : static_cast<float*>(ctx.scratch(
                                        static_cast<size_t>(K * chunk) * sizeof(float)));
    void* workspace = ctx.scratch(sgemm_workspace_bytes(rt, p.group_maps, chunk, K));
    ThreadPool* pool = ctx.pool();
    const int64_t chunks = (out_plane + chunk - 1) / chunk;
    const bool reused = p.batch * chunks > 1 || (pool && pool->size() > 1) || out_plane > 512;
    const RunPacking packing = run_packing(ctx, rt, p, K, reused);

    for (int64_t g = 0; g < p.groups; ++g) {
      const float* w_g = p.w + g * p.group_maps * K;
      const PackedA packed = group_packing(packing, rt, p, K, g);
      const GemmEpilogue ep = group_epilogue(p, g);
      for (int64_t n = 0; n < p.batch; ++n) {
        const float* x_g = p.x + (n * channels + g * p.group_channels) * in_plane;
        float* y_g = p.y + (n * maps + g * p.group_maps) * out_plane;
        const float* z_g = p.z ? p.z + (n * maps + g * p.group_maps) * out_plane : nullptr;
        GemmEpilogue ep_n = ep;  // the addend has y's layout: same offsets and ldc
        if (direct) {
          ep_n.addend = z_g;
          sgemm(rt, false, false, p.group_maps, out_plane, K, 1.f, w_g, K, x_g, in_plane, 0.f,
                y_g, out_plane, workspace, ep_n, &packed);
          continue;
        }
        if (panels) {
          const PatchSource source{&p.geo, x_g};
          GemmBPacker packer;
          packer.pack = &PatchSource::pack;
          packer.self = &source;
          ep_n.addend = z_g;
          sgemm_with_b_packer(rt, p.group_maps, out_plane, K, 1.f, w_g, K, packer, 0.f, y_g,
                              out_plane, workspace, ep_n, &packed);
          continue;
        }
        for (int64_t j0 = 0; j0 < out_plane; j0 += chunk) {
          const int64_t cols = std::min(chunk, out_plane - j0);
          im2col_parallel(pool, p.geo, p.group_channels, x_g, j0, cols, col);
          ep_n.addend = z_g ? z_g + j0 : nullptr;
          sgemm(rt, false, false, p.group_maps, cols, K, 1.f, w_g, K, col, cols, 0.f, y_g + j0,
                out_plane, workspace, ep_n, &packed);
        }
      }
    }
  }

  // How this run gets each group's packed weights: the kept copy (KeptPacking), or packed
  // once per run into scratch instead of once per GEMM call (per image, column chunk, column
  // block and thread) -- costs the packed weights in scratch, so only when the memory/speed
  // tradeoff leans to speed and the packing is reused -- or neither (the GEMM packs per call).
  struct RunPacking {
    const std::vector<PackedA>* kept = nullptr;
    void* buffer = nullptr;
  };
  RunPacking run_packing(KernelContext& ctx, const GemmRuntime& rt, const Problem& p, int64_t K,
                         bool reused) {
    RunPacking r;
    r.kept = kept_packing(ctx, rt, p, K);
    const size_t packed_bytes = sgemm_packed_a_bytes(rt, p.group_maps, K);
    if (!r.kept && reused && packed_bytes > 0 && packed_bytes <= kMaxPackedWeightBytes &&
        ctx.config().memory.memory_speed_tradeoff >= 0.5f)
      r.buffer = ctx.scratch(packed_bytes);
    return r;
  }
  static PackedA group_packing(const RunPacking& r, const GemmRuntime& rt, const Problem& p,
                               int64_t K, int64_t g) {
    if (r.kept) return (*r.kept)[static_cast<size_t>(g)];
    if (r.buffer)
      return sgemm_pack_a(rt, false, p.group_maps, K, 1.f, p.w + g * p.group_maps * K, K,
                          r.buffer);
    return PackedA{};
  }
  // The bias and activation are applied in the GEMM's store (once per output element).
  static GemmEpilogue group_epilogue(const Problem& p, int64_t g) {
    GemmEpilogue ep;
    ep.row_bias = p.bias ? p.bias + g * p.group_maps : nullptr;
    ep.activation = p.activation;
    return ep;
  }

  // The padded-grid path: per image and group, pad the group's channels once, then GEMM
  // over chunks of output rows into an extended output and compact it into Y.
  void run_padded_grid(KernelContext& ctx, const GemmRuntime& rt, const Problem& p, int64_t K,
                       const PaddedGrid& grid) {
    const int64_t in_plane = p.geo.image_size(), out_plane = p.geo.grid_size();
    const int64_t channels = p.groups * p.group_channels, maps = p.groups * p.group_maps;
    const int64_t chunk_cols = grid.chunk_columns();
    auto* padded = static_cast<float*>(
        ctx.scratch(static_cast<size_t>(grid.padded_floats()) * sizeof(float)));
    auto* ext = static_cast<float*>(
        ctx.scratch(static_cast<size_t>(p.group_maps * chunk_cols) * sizeof(float)));
    void* workspace = ctx.scratch(sgemm_workspace_bytes(rt, p.group_maps, chunk_cols, K));
    ThreadPool* pool = ctx.pool();
    // Every row chunk, image and thread reuses a per-run packing.
    const RunPacking packing = run_packing(ctx, rt, p, K, /*reused=*/true);
    for (int64_t g = 0; g < p.groups; ++g) {
      const float* w_g = p.w + g * p.group_maps * K;
      const PackedA packed = group_packing(packing, rt, p, K, g);
      const GemmEpilogue ep = group_epilogue(p, g);
      for (int64_t n = 0; n < p.batch; ++n) {
        grid.pad(p.geo, p.x + (n * channels + g * p.group_channels) * in_plane, padded, pool);
        float* y_g = p.y + (n * maps + g * p.group_maps) * out_plane;
        for (int64_t oh0 = 0; oh0 < grid.oh; oh0 += grid.row_chunk) {
          const int64_t rows = std::min(grid.row_chunk, grid.oh - oh0);
          const GridSource source{&grid, padded, oh0 * grid.wq};
          GemmBPacker packer;
          packer.pack = &GridSource::pack;
          packer.self = &source;
          sgemm_with_b_packer(rt, p.group_maps, rows * grid.wq, K, 1.f, w_g, K, packer, 0.f,
                              ext, rows * grid.wq, workspace, ep, &packed);
          grid.compact(p.group_maps, ext, oh0, rows, y_g, pool);
        }
      }
    }
  }

  // A padded image's extended patch matrix as the GEMM's B (columns from e0 on).
  struct GridSource {
    const PaddedGrid* grid;
    const float* padded;
    int64_t e0;
    static void pack(const void* self, int64_t k0, int64_t kc, int64_t j0, int64_t n, int nr,
                     float* dst) {
      const auto* s = static_cast<const GridSource*>(self);
      s->grid->pack(s->padded, k0, kc, s->e0 + j0, n, nr, dst);
    }
  };

  // One image's patches as the GEMM's B, packed block by block (im2col_panels).
  struct PatchSource {
    const PatchGeometry* geo;
    const float* image;
    static void pack(const void* self, int64_t k0, int64_t kc, int64_t j0, int64_t n, int nr,
                     float* dst) {
      const auto* s = static_cast<const PatchSource*>(self);
      im2col_panels(*s->geo, s->image, k0, kc, j0, n, nr, dst);
    }
  };

  // im2col split over input channels (each channel's rows of the column matrix are disjoint).
  static void im2col_parallel(ThreadPool* pool, const PatchGeometry& geo, int64_t channels,
                              const float* image, int64_t j0, int64_t cols, float* col) {
    const int64_t plane = geo.image_size(), rows_per_channel = geo.kernel_size();
    if (!pool || channels < 2 || channels * rows_per_channel * cols < kMinParallelWork) {
      im2col(geo, channels, image, j0, cols, col);
      return;
    }
    pool->parallel_for(channels, 1, [&](int64_t c0, int64_t c1) {
      im2col(geo, c1 - c0, image + c0 * plane, j0, cols, col + c0 * rows_per_channel * cols);
    });
  }

  // Every group's weights packed under the runtime they were packed for, kept across runs
  // while the session allows it (KernelContext::persistent).
  struct KeptPacking {
    BufferPtr buffer;
    const float* w = nullptr;
    int64_t groups = 0, M = 0, K = 0;
    Isa isa = Isa::Scalar;
    int kc = 0;
    std::vector<PackedA> per_group;
  };

  // The kept packing for this run, repacked when the weights' address or shape or the ISA or
  // K blocking changed (set_config between runs); null when the session keeps none or the
  // GEMM reads the weights in place.
  const std::vector<PackedA>* kept_packing(KernelContext& ctx, const GemmRuntime& rt,
                                           const Problem& p, int64_t K) {
    const KeptPacking& k = kept_;
    if (k.buffer && k.w == p.w && k.groups == p.groups && k.M == p.group_maps && k.K == K &&
        k.isa == rt.isa && k.kc == rt.kc)
      return &k.per_group;
    kept_ = KeptPacking{};  // free the stale copy before its replacement is allocated
    const size_t per_group = sgemm_packed_a_bytes(rt, p.group_maps, K);
    if (per_group == 0 || per_group > kMaxPackedWeightBytes) return nullptr;
    BufferPtr buffer = ctx.persistent(per_group * static_cast<size_t>(p.groups), /*from_input=*/1);
    if (!buffer) return nullptr;
    KeptPacking fresh;
    for (int64_t g = 0; g < p.groups; ++g)
      fresh.per_group.push_back(sgemm_pack_a(rt, false, p.group_maps, K, 1.f,
                                             p.w + g * p.group_maps * K, K,
                                             static_cast<char*>(buffer->data()) +
                                                 static_cast<size_t>(g) * per_group));
    fresh.buffer = std::move(buffer);
    fresh.w = p.w;
    fresh.groups = p.groups;
    fresh.M = p.group_maps;
    fresh.K = K;
    fresh.isa = rt.isa;
    fresh.kc = rt.kc;
    kept_ = std::move(fresh);
    return &kept_.per_group;
  }

 public:
  void drop_persistent() override { kept_ = KeptPacking{}; }

 private:
  ConvAttributes attrs_;
  KeptPacking kept_;
};

}  // namespace

TINYAI_REGISTER_KERNEL("Conv", Conv);

}  // namespace tinyai
