// Exercise 4 (docs/replication.md, Exercises): shard the optimizer. Replace the throws with your code,
// then run build/tests/test_exercises --gtest_filter='*ShardedSgd*'.
#include "exercises/exercises.h"

namespace aslnet::exercises {

std::pair<int64_t, int64_t> shard_range(int64_t /*numel*/, int /*rank*/, int /*size*/) {
  throw NotAttempted("exercise 4 not attempted yet: write shard_range in exercises/sharded_sgd.cpp");
}

void sharded_sgd_step(Communicator& /*comm*/, const Tensor& /*weights*/, const Tensor& /*gradients*/,
                      std::vector<float>& /*velocity*/, float /*lr*/, float /*momentum*/) {
  throw NotAttempted("exercise 4 not attempted yet: write sharded_sgd_step in exercises/sharded_sgd.cpp");
}

}  // namespace aslnet::exercises
