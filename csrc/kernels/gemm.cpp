#include "kernels/gemm.h"

#include <algorithm>
#include <vector>

#include "core/parallel.h"

namespace tg::kernels {

namespace {
// Portable cache-blocked GEMM: B is packed row-panel by row-panel so the inner loop runs
// over contiguous memory and vectorizes; rows of C are split across threads.
template <class T>
void gemm_portable(int64_t M, int64_t N, int64_t K, const T* A, int64_t rsa, int64_t csa,
                   const T* B, int64_t rsb, int64_t csb, T* C, int64_t ldc, bool accumulate) {
  if (M == 0 || N == 0) return;
  if (!accumulate)
    for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, T(0));
  if (K == 0) return;
  constexpr int64_t KC = 256, NC = 512;
  std::vector<T> packed((size_t)std::min(K, KC) * std::min(N, NC));
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t j = 0; j < nc; ++j) packed[p * nc + j] = B[(pc + p) * rsb + (jc + j) * csb];
      const T* Bp = packed.data();
      parallel_for(M, kc * nc, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          T* c = C + i * ldc + jc;
          for (int64_t p = 0; p < kc; ++p) {
            const T a = A[i * rsa + (pc + p) * csa];
            const T* b = Bp + p * nc;
            for (int64_t j = 0; j < nc; ++j) c[j] += a * b[j];
          }
        }
      });
    }
  }
}
}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa,
          const float* B, int64_t rsb, int64_t csb, float* C, int64_t ldc, bool accumulate) {
  gemm_portable(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
}

void gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa,
          const double* B, int64_t rsb, int64_t csb, double* C, int64_t ldc, bool accumulate) {
  gemm_portable(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
}

}  // namespace tg::kernels
