// Unused parameters (engine/replication/gradient_reducer.h): a model whose auxiliary head backward never
// reaches (tests/replication/harness.h, make_unused_head_model). By default the replicas stop at the
// first step with an error naming each such parameter; with find_unused (--find-unused) their gradient
// counts as zero, the replicas match one replica on the whole batch, and the unused parameters change
// only by what weight decay and momentum do with a zero gradient.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/replication/in_process.h"
#include "engine/replication/replica_threads.h"
#include "tests/replication/harness.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

std::vector<std::unique_ptr<Communicator>> cpu_group(int n) {
  return make_in_process_communicators(std::vector<Device>(size_t(n), Device::cpu()), {60.0});
}

// The values of parameter `name` in a parameter arena of the unused-head model.
std::vector<float> values_of(const Tensor& arena, const std::string& name, int64_t classes) {
  auto layout = test::make_unused_head_model(classes);
  const Parameter* p = layout->find_parameter(name);
  const int64_t at = p->value.data<float>() - layout->parameter_arena().data<float>();
  return std::vector<float>(arena.data<float>() + at, arena.data<float>() + at + p->shape.numel());
}

TEST(UnusedParameters, WithoutFindUnusedTheFirstStepStopsNamingEachOne) {
  test::ReplicationCase c;
  c.unused_head = true;
  auto comms = cpu_group(2);
  try {
    run_replica_threads(comms, [&](int r) { test::train_replica(c, *comms[size_t(r)]); });
    FAIL() << "replicas trained with parameters that never got a gradient";
  } catch (const Error& e) {
    const std::string message = e.message();
    EXPECT_EQ(message.rfind("no gradient for aux.bias, aux.weight: ", 0), 0u) << message;
    EXPECT_NE(message.find("--find-unused"), std::string::npos) << message;
    EXPECT_EQ(message.find("fc."), std::string::npos) << "a used parameter is named: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
  }
}

TEST(UnusedParameters, WithFindUnusedReplicasMatchOneReplicaOnTheWholeBatch) {
  test::ReplicationCase c;  // frozen batch norm: N replicas are one replica on the whole batch
  c.unused_head = true;
  c.find_unused = true;
  const Tensor whole = test::train_serial(c, 1);
  const int n = 2;
  auto comms = cpu_group(n);
  std::vector<Tensor> weights(n);
  run_replica_threads(comms, [&](int r) { weights[size_t(r)] = test::train_replica(c, *comms[size_t(r)]); });
  for (int r = 0; r < n; ++r) {
    EXPECT_LE(test::relative_error(weights[size_t(r)], whole), 1e-5) << "replica " << r;
    EXPECT_EQ(std::memcmp(weights[size_t(r)].raw(), weights[0].raw(), whole.bytes()), 0) << "replica " << r;
  }
  EXPECT_GT(test::relative_error(whole, test::initial_weights(c)), 1e-3) << "the weights did not move";

  // The unused head's gradient is zero, and the optimizer still runs on it (as it does on one replica,
  // whose head never gets a gradient either): SGD with momentum 0.9, weight decay 1e-3, learning rate
  // 0.05 (the harness's) turns g = 0 + wd * p into p_t = f * p_0, the same factor f for every value.
  const double lr = 0.05, mu = 0.9, wd = 1e-3;
  double p = 1.0, buf = 0.0;
  for (int64_t step = 0; step < c.steps; ++step) {
    buf = mu * buf + wd * p;
    p -= lr * buf;
  }
  const Tensor start = test::initial_weights(c);
  for (const char* name : {"aux.weight", "aux.bias"}) {
    const std::vector<float> before = values_of(start, name, c.classes);
    const std::vector<float> after = values_of(weights[0], name, c.classes);
    for (size_t i = 0; i < before.size(); ++i)
      ASSERT_NEAR(after[i], p * before[i], 1e-6 * std::abs(before[i]) + 1e-9) << name << "[" << i << "]";
  }
}

}  // namespace
}  // namespace aslnet
