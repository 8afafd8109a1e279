#pragma once
// Run-time CPU feature detection, so SIMD kernels compiled for newer instruction sets
// are only called on CPUs (and operating systems) that support them.

namespace tg::kernels {

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 + FMA3
  bool avx512 = false;    // AVX-512 F, DQ, BW and VL
};

const CpuFeatures& cpu_features();

}  // namespace tg::kernels
