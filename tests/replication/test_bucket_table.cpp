// The bucket table of aslnet train --print-buckets (engine/replication/bucket_table.h) against the
// reducer's own buckets, and its "completed by" column against a count kept here, apart from the
// reducer, of which layer's report brought each bucket's last missing gradient.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "engine/loss.h"
#include "engine/replication/bucket_table.h"
#include "engine/replication/gradient_reducer.h"
#include "engine/replication/in_process.h"
#include "models/resnet.h"
#include "tests/replication/harness.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

// One reduced forward and backward of `model` on random images, through `reducer`; returns, per
// bucket, the layer whose report left none of its parameters missing (counted from the hook here).
std::map<int, std::string> one_backward(Model& model, GradientReducer& reducer, int64_t size) {
  Context ctx(Device::cpu(), 0);
  model.setup(ctx, 2, size, size);
  std::map<const Parameter*, int> bucket_of;
  for (size_t b = 0; b < reducer.buckets().size(); ++b) {
    const GradientBucket& bucket = reducer.buckets()[b];
    for (const Parameter* p : model.parameters()) {
      const float* at = p->grad.data<float>();
      if (at >= bucket.first->grad.data<float>() && at <= bucket.last->grad.data<float>()) bucket_of[p] = int(b);
    }
  }
  std::map<int, int> missing;
  for (const auto& [p, b] : bucket_of) ++missing[b];
  std::map<int, std::string> completed;
  model.set_backward_hook([&](std::span<Parameter* const> finished) {
    for (const Parameter* p : finished)
      if (--missing[bucket_of.at(p)] == 0) completed[bucket_of.at(p)] = layer_of(p->name);
    reducer.gradients_finished(finished);
  });
  Rng rng(3);
  const Tensor x = test::random_f32(Shape{2, size, size, 3}, rng);
  const Tensor labels = Tensor::zeros(Shape{2}, DType::I32);
  CrossEntropyLoss loss;
  loss.forward_backward(ctx, model.forward(ctx, x, true), labels);
  reducer.begin_backward(ctx, true);
  model.backward(ctx, loss.dlogits());
  reducer.finish(ctx);
  return completed;
}

TEST(BucketTable, RowsAreTheReducersBucketsWithTheLayerThatCompletedEach) {
  auto model = make_resnet({"resnet18", "small", 0.25, 29, 3});
  auto comms = make_in_process_communicators({Device::cpu()});
  // Small buckets: a dozen or so, some of them completed by a residual block's shortcut.
  GradientReducer reducer(*model, *comms[0], {.bucket_bytes = 96 << 10, .first_bucket_bytes = 16 << 10});
  for (const BucketRow& row : bucket_rows(reducer)) EXPECT_EQ(row.completed_by, "-") << "before any backward";

  const std::map<int, std::string> completed = one_backward(*model, reducer, 8);
  const auto& buckets = reducer.buckets();
  const std::vector<BucketRow> rows = bucket_rows(reducer);
  ASSERT_EQ(rows.size(), buckets.size());
  ASSERT_GE(rows.size(), 5u);
  EXPECT_EQ(rows[0].first, "fc.bias");
  EXPECT_EQ(rows.back().last, "conv1.weight");
  int parameters = 0;
  for (size_t b = 0; b < rows.size(); ++b) {
    SCOPED_TRACE("bucket " + std::to_string(b));
    EXPECT_EQ(rows[b].index, int(b));
    EXPECT_EQ(rows[b].parameters, buckets[b].parameters);
    EXPECT_EQ(rows[b].bytes, buckets[b].count * 4);
    EXPECT_EQ(rows[b].first, buckets[b].first->name);
    EXPECT_EQ(rows[b].last, buckets[b].last->name);
    EXPECT_EQ(rows[b].completed_by, completed.at(int(b)));
    parameters += rows[b].parameters;
  }
  EXPECT_EQ(parameters, int(model->parameters().size()));
  // The reason the column is observed: some bucket ends on a main-branch layer but is completed by the
  // shortcut's backward, which runs after the main branch although it sits in front of it.
  bool shortcut_completes = false;
  for (const BucketRow& row : rows) shortcut_completes |= row.completed_by.find("downsample") != std::string::npos;
  EXPECT_TRUE(shortcut_completes);

  // The text: a header and one line per bucket, each naming its first parameter and completing layer.
  std::istringstream text(bucket_table(reducer));
  std::string line;
  std::getline(text, line);
  EXPECT_NE(line.find("completed by"), std::string::npos) << line;
  for (const BucketRow& row : rows) {
    ASSERT_TRUE(std::getline(text, line));
    EXPECT_NE(line.find(" " + row.first + " "), std::string::npos) << line;
    EXPECT_NE(line.find(" " + row.completed_by), std::string::npos) << line;
  }
  EXPECT_FALSE(std::getline(text, line)) << "a line too many: " << line;
}

TEST(BucketTable, ABucketHeldByUnusedParametersIsCompletedByTheEndOfBackward) {
  auto model = test::make_unused_head_model(5);
  auto comms = make_in_process_communicators({Device::cpu()});
  GradientReducer reducer(*model, *comms[0], {.find_unused = true});
  one_backward(*model, reducer, 6);
  ASSERT_EQ(reducer.unused().size(), 2u);
  const std::vector<BucketRow> rows = bucket_rows(reducer);
  ASSERT_EQ(rows.size(), 1u);  // a small model: one bucket, held back by the head until the end
  EXPECT_EQ(rows[0].completed_by, "end of backward (unused: aux.bias, aux.weight)");
}

}  // namespace
}  // namespace aslnet
