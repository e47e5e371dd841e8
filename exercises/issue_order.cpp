// Exercise 2 (docs/replication.md, Exercises): the ready-order issue policy. Replace the throw with your
// IssuePolicy, then run build/tests/test_exercises --gtest_filter='*IssueOrder*'.
#include "exercises/exercises.h"

namespace aslnet::exercises {

std::unique_ptr<IssuePolicy> make_ready_order_policy(int /*buckets*/) {
  throw NotAttempted("exercise 2 not attempted yet: write make_ready_order_policy in exercises/issue_order.cpp");
}

}  // namespace aslnet::exercises
