#pragma once
// Double backward of a backward that is linear in its incoming gradient: gx = L(g), where
// L depends only on constants the node saved (indices, shapes, masks). Under create_graph
// the fused kernel still computes L(g); the result is recorded with a node whose backward
// is L's adjoint written with public ops (the forward op itself, for a linear forward:
// gather for a scatter, avg_pool for its backward, ...), which record their own nodes, so
// the gradient can be differentiated again to any order.
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "autograd/node.h"

namespace tg {

struct AdjointBackward : Node {
  std::string node_name;
  std::function<Tensor(const Tensor&)> adjoint;  // gg (shape of L(g)) -> gradient for g
  AdjointBackward(std::string n, std::function<Tensor(const Tensor&)> f)
      : node_name(std::move(n)), adjoint(std::move(f)) {}
  std::string name() const override { return node_name; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {adjoint(g[0])}; }
  void release_saved() override { adjoint = nullptr; }
};

// The name of the node recording the backward of node `n` ("AvgPool2DBackward0" ->
// "AvgPool2DBackwardBackward0"), as PyTorch names the nodes of its *_backward ops.
inline std::string backward_of(const std::string& n) {
  const bool numbered = !n.empty() && n.back() == '0';
  return (numbered ? n.substr(0, n.size() - 1) : n) + "Backward0";
}

// L(g) by `fused` (run under no_grad), with a history through `adjoint` when g has one.
template <class Fused>
Tensor linear_in_grad(const Tensor& g, const std::string& name, Fused fused,
                      std::function<Tensor(const Tensor&)> adjoint) {
  Tensor out;
  {
    NoGradGuard ng;
    out = fused(g);
  }
  if (!out) return out;
  auto node = make_node<AdjointBackward>({g}, name, std::move(adjoint));
  if (node) {
    if (out.get() == g.get()) out = alias(out);
    set_history(node, {out});
  }
  return out;
}

}  // namespace tg
