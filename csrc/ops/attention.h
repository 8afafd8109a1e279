#pragma once
#include <optional>

#include "core/tensor.h"
#include "ops/random.h"

namespace tg {

// PyTorch's scaled_dot_product_attention on the fused kernel of kernels/attention.h.
// query (..., L, E), key (..., S, E), value (..., S, Ev): batch dims broadcast; with
// enable_gqa the key/value heads (dim -3) may divide the query heads (each serves a group
// of consecutive query heads). attn_mask (null, bool: true takes part, or the query's
// float dtype: added) broadcasts to (..., L, S); is_causal masks key j > query i (also
// together with a mask); scale defaults to 1/sqrt(E); dropout_p drops attention weights
// (drawn from `gen`). Rows with every key masked give 0. Backward node:
// ScaledDotProductFlashAttentionForCpuBackward0 (gradients for query, key, value and a
// float mask that requires grad), which recomputes the scores tile by tile.
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale, bool enable_gqa, Generator& gen);

}  // namespace tg
