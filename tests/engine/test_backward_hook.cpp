// The backward hook (engine/layer.h), which the replication module's bucketed all-reduce runs on: in
// every backward, each layer that owns parameters calls it exactly once, right after its own backward,
// with exactly its parameters; layers without parameters and containers (Sequential, Residual) never
// call it. So every parameter is reported once per backward, in the order backward finishes them.
#include <gtest/gtest.h>

#include <map>
#include <span>

#include "engine/layers/residual.h"
#include "engine/layers/sequential.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

using Calls = std::vector<std::vector<Parameter*>>;

// The layers that own parameters, in the order backward runs them: a Sequential's layers in reverse,
// a residual block's main branch before its shortcut (Residual::backward_cpu and backward_cuda).
void owners_in_backward_order(Layer& layer, Calls& out) {
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    for (auto it = seq->layers().rbegin(); it != seq->layers().rend(); ++it) owners_in_backward_order(**it, out);
  } else if (auto* block = dynamic_cast<Residual*>(&layer)) {
    owners_in_backward_order(block->main(), out);
    owners_in_backward_order(block->shortcut(), out);
  } else {
    std::vector<Parameter*> own;
    layer.collect_parameters(own);
    if (!own.empty()) out.push_back(own);
  }
}

void expect_hook_once_per_owner(Device device) {
  Context ctx(device, 7);
  // Width 0.125 keeps it cheap; resnet18 still has blocks with an identity shortcut and blocks whose
  // shortcut is a convolution and a batch norm (layer2.0 and on).
  Rng rng(7);
  auto model = make_initialised_model({"resnet18", "small", 0.125, 5, 3}, rng, DType::F32, device);
  const int64_t batch = 2, size = 8;
  model->setup(ctx, batch, size, size);

  Calls calls;
  model->set_backward_hook(
      [&](std::span<Parameter* const> finished) { calls.emplace_back(finished.begin(), finished.end()); });
  Calls expected;
  owners_in_backward_order(model->net(), expected);
  ASSERT_GT(expected.size(), 20u);

  const Tensor x = test::random_f32(Shape{batch, size, size, 3}, rng).to(device);
  const Tensor dlogits = test::random_f32(Shape{batch, 5}, rng).to(device);
  // Two backwards, the second accumulating (a micro-batch): the hook fires the same way in each.
  for (bool accumulate : {false, true}) {
    SCOPED_TRACE(accumulate ? "accumulating backward" : "first backward");
    calls.clear();
    model->forward(ctx, x, true);
    EXPECT_TRUE(calls.empty()) << "the hook fired during forward";
    model->backward(ctx, dlogits, accumulate);
    // One call per layer that owns parameters, with exactly that layer's parameters, in backward's order
    // (so never for a container, which would report its children's parameters).
    ASSERT_EQ(calls.size(), expected.size());
    for (size_t i = 0; i < calls.size(); ++i) {
      ASSERT_FALSE(calls[i].empty()) << "call " << i;
      EXPECT_EQ(calls[i], expected[i]) << "call " << i << " reported " << calls[i].front()->name << ", expected "
                                       << expected[i].front()->name;
    }
    // Every parameter of the model exactly once.
    std::map<const Parameter*, int> seen;
    for (const auto& call : calls)
      for (const Parameter* p : call) ++seen[p];
    EXPECT_EQ(seen.size(), model->parameters().size());
    for (const Parameter* p : model->parameters()) EXPECT_EQ(seen[p], 1) << p->name;
  }
  // The classifier finishes first, the stem last.
  EXPECT_EQ(expected.front().front()->name, "fc.weight");
  EXPECT_EQ(expected.back().front()->name, "conv1.weight");

  // An empty hook removes it.
  model->set_backward_hook({});
  calls.clear();
  model->forward(ctx, x, true);
  model->backward(ctx, dlogits);
  EXPECT_TRUE(calls.empty());
}

TEST(BackwardHook, FiresOncePerParameterOwningLayerWithItsParameters) { expect_hook_once_per_owner(Device::cpu()); }

TEST(BackwardHook, FiresOncePerParameterOwningLayerWithItsParametersCuda) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  expect_hook_once_per_owner(Device::cuda(0));
}

}  // namespace
}  // namespace aslnet
