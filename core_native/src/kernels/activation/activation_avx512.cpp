// Activation-family vector kernels built with -mavx512f -mavx2 -mfma (CMakeLists.txt);
// reached only after cpuid said the CPU has them.
#include "kernels/activation/activation_vector_math.h"

namespace tinyai {

// Constant-initialised: taking the table needs no code compiled for this ISA.
const ActivationKernels kActivationAvx512f{&VectorMath<16>::map, &VectorMath<16>::softmax_row};

}  // namespace tinyai
