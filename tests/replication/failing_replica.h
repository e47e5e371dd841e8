// A check that every in-process all-reduce algorithm must pass: a replica that fails stops its peers at
// once, with its reason, and its own error (not a peer's echo of it) reaches the caller.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/replication/communicator.h"

namespace aslnet::test {

// Four replicas on `comms` (whose watchdog should be long: it must not be what ends them) all-reduce
// buffers of `values` values until replica 2 throws a decode error at its fourth step.
void expect_a_failing_replica_to_stop_the_others(const std::vector<std::unique_ptr<Communicator>>& comms,
                                                 int64_t values);

}  // namespace aslnet::test
