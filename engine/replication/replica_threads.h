// Single-process mode's threads: one host thread per replica, each driving its own device (or CPU
// share) with its own Context, model, optimizer and loader shard, meeting the others only in
// collectives. When one replica fails, its error aborts every communicator, so the others' waits end
// at once with "replica r failed: ..." instead of at the watchdog's timeout; the first real error (not
// a peer's echo of it) is rethrown to the caller.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/replication/communicator.h"

namespace aslnet {

void run_replica_threads(const std::vector<std::unique_ptr<Communicator>>& communicators,
                         const std::function<void(int replica)>& body);

}  // namespace aslnet
