#include "engine/core/parallel.h"
#include "kernels/replica_average.h"

namespace aslnet::kernels::cpu {

template <class T>
void average_replicas(const ReplicaBuffers& buffers, int64_t begin, int64_t end) {
  const T scale = T(1) / T(buffers.count);
  parallel_for(end - begin, 1 << 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = begin + lo; i < begin + hi; ++i) {
      T sum = static_cast<const T*>(buffers.data[0])[i];
      for (int r = 1; r < buffers.count; ++r) sum += static_cast<const T*>(buffers.data[r])[i];
      const T mean = sum * scale;
      for (int r = 0; r < buffers.count; ++r) static_cast<T*>(buffers.data[r])[i] = mean;
    }
  });
}

template void average_replicas<float>(const ReplicaBuffers&, int64_t, int64_t);
template void average_replicas<double>(const ReplicaBuffers&, int64_t, int64_t);

}  // namespace aslnet::kernels::cpu
