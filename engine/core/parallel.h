// parallel_for: splits [0, n) into one contiguous range per CPU thread and runs them on a small pool
// of persistent workers (plus the calling thread). Workers block on a condition variable between
// calls instead of spinning, so they never steal a core from OpenBLAS's own threads, which run the
// matrix products in between. The split depends only on n and the thread count, so a loop whose
// iterations write disjoint outputs gives the same bits whatever the thread count; callers that
// reduce split along an axis that keeps each sum inside one range.
#pragma once

#include <cstdint>
#include <functional>

namespace aslnet {

// Calls fn(begin, end) on disjoint ranges covering [0, n). Ranges smaller than `grain` iterations are
// not split further (small loops run on the calling thread alone).
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace aslnet
