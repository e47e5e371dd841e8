// Checks that every in-process all-reduce algorithm must pass: a replica that fails stops its peers at
// once, with its reason, and its own error (not a peer's echo of it) reaches the caller; a replica that
// never arrives is named by the watchdog.
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

// Three replicas on `comms` (whose watchdog should be short, 0.3 s): replicas 0 and 1 all-reduce, replica
// 2 never comes; replica 0's wait must end within seconds with an error naming replica 2.
void expect_the_watchdog_to_name_a_replica_that_never_arrived(const std::vector<std::unique_ptr<Communicator>>& comms);

}  // namespace aslnet::test
