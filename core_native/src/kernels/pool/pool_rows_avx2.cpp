// Pooling row loops built with -mavx2 -mfma (CMakeLists.txt); reached only after cpuid said
// the CPU has them.
#include "kernels/pool/pool_rows.h"
#include "kernels/pool/pool_rows_impl.h"

namespace tinyai {

const PoolRowKernels kPoolRowsAvx2{&pool_rows::max,      &pool_rows::sum,      &pool_rows::max_rows,
                                 &pool_rows::sum_rows, &pool_rows::max_taps, &pool_rows::sum_taps};

}  // namespace tinyai
