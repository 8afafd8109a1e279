#pragma once
// Reductions. `dims` empty means every dim (PyTorch's dim=None). The overloads without
// dims are PyTorch's full reductions, whose graph nodes have their own names
// (SumBackward0 vs SumBackward1 ...). `dtype` casts the input first, as in PyTorch.
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace tg {

Tensor sum(const Tensor& a, std::optional<DType> dtype = std::nullopt);
Tensor sum(const Tensor& a, std::vector<int64_t> dims, bool keepdim,
           std::optional<DType> dtype = std::nullopt);
Tensor mean(const Tensor& a, std::optional<DType> dtype = std::nullopt);
Tensor mean(const Tensor& a, std::vector<int64_t> dims, bool keepdim,
            std::optional<DType> dtype = std::nullopt);
// Divides the sum of squared deviations by max(0, N - correction).
Tensor var(const Tensor& a, std::vector<int64_t> dims, double correction = 1, bool keepdim = false);
Tensor stddev(const Tensor& a, std::vector<int64_t> dims, double correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& a, std::vector<int64_t> dims, bool keepdim);
Tensor prod(const Tensor& a, std::optional<DType> dtype = std::nullopt);
Tensor prod(const Tensor& a, int64_t dim, bool keepdim, std::optional<DType> dtype = std::nullopt);

// max/min of all elements, a 0-d tensor; with a dim, (values, indices) along it.
Tensor max(const Tensor& a);
Tensor min(const Tensor& a);
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim);
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim);
Tensor amax(const Tensor& a, std::vector<int64_t> dims, bool keepdim);
Tensor amin(const Tensor& a, std::vector<int64_t> dims, bool keepdim);
Tensor all(const Tensor& a, std::vector<int64_t> dims, bool keepdim);  // empty dims: every element
Tensor any(const Tensor& a, std::vector<int64_t> dims, bool keepdim);
// No dim: the index into the flattened tensor.
Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim);
Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim);

Tensor softmax(const Tensor& a, int64_t dim, std::optional<DType> dtype = std::nullopt);
Tensor log_softmax(const Tensor& a, int64_t dim, std::optional<DType> dtype = std::nullopt);

}  // namespace tg
