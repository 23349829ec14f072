// Pooling row loops for every CPU of the architecture (SSE2 / NEON), and the dispatch point.
#include "kernels/pool/pool_rows.h"
#include "kernels/pool/pool_rows_impl.h"

namespace tinyai {

const PoolRowKernels kPoolRowsBaseline{&pool_rows::max,      &pool_rows::sum,      &pool_rows::max_rows,
                                 &pool_rows::sum_rows, &pool_rows::max_taps, &pool_rows::sum_taps};

const PoolRowKernels& pool_row_kernels(Isa isa) {
#if TINYAI_X86_KERNELS
  if (isa == Isa::Avx512) return kPoolRowsAvx512;
  if (isa == Isa::Avx2) return kPoolRowsAvx2;
#endif
  (void)isa;
  return kPoolRowsBaseline;
}

}  // namespace tinyai
