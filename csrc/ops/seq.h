#pragma once
// The tensor ops sequence models use (causal masks, sampling, beam search, positional
// shifts): tril/triu, cumsum/cumprod, sort/argsort/topk, repeat, roll, flip, multinomial.
// PyTorch's semantics, errors and backward node names.
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "ops/random.h"

namespace tg {

Tensor tril(const Tensor& a, int64_t diagonal = 0);
Tensor triu(const Tensor& a, int64_t diagonal = 0);
void tril_(const Tensor& a, int64_t diagonal = 0);
void triu_(const Tensor& a, int64_t diagonal = 0);

// `dtype` casts the input first; without it, bool and integer inputs give int64.
Tensor cumsum(const Tensor& a, int64_t dim, std::optional<DType> dtype = std::nullopt);
Tensor cumprod(const Tensor& a, int64_t dim, std::optional<DType> dtype = std::nullopt);
// The gradient of a product along `dim` of x (cumulative: cumprod's, g of x's shape; else
// prod's with keepdim, g and out of the reduced shape), in public ops so that it can be
// differentiated again (create_graph).
Tensor prod_backward_graph(const Tensor& x, const Tensor& g, const Tensor& out, int64_t dim,
                           bool cumulative);
// In place, in self's dtype (`dtype`, when given, must be it).
void cumsum_(const Tensor& a, int64_t dim, std::optional<DType> dtype = std::nullopt);
void cumprod_(const Tensor& a, int64_t dim, std::optional<DType> dtype = std::nullopt);

// (values, indices). Sorting is always stable (equal values keep their order); nan sorts
// as the largest value. `stable_given` only picks the node name (SortBackward1).
std::pair<Tensor, Tensor> sort(const Tensor& a, int64_t dim = -1, bool descending = false,
                               bool stable_given = false);
Tensor argsort(const Tensor& a, int64_t dim = -1, bool descending = false);
// The k largest (or smallest) along dim, in sorted order.
std::pair<Tensor, Tensor> topk(const Tensor& a, int64_t k, int64_t dim = -1, bool largest = true,
                               bool sorted = true);

// Tensor.repeat: `repeats` has at least a->ndim() entries (leading ones add dims).
Tensor repeat(const Tensor& a, const std::vector<int64_t>& repeats);
// Rolls by shifts[i] along dims[i]; without dims, the flattened tensor by shifts[0].
Tensor roll(const Tensor& a, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims);
Tensor flip(const Tensor& a, const std::vector<int64_t>& dims);

// Samples of category indices (int64) from the rows of p (1-D or 2-D, non-negative weights).
Tensor multinomial(const Tensor& p, int64_t num_samples, bool replacement, Generator& g);

}  // namespace tg
