#include "engine/replication/sync_batch_norm.h"

#include "engine/layers/batchnorm.h"
#include "engine/layers/residual.h"
#include "engine/layers/sequential.h"

namespace aslnet {

namespace {

// Every BatchNorm2d under `layer`, in forward order. The containers a network is built from are
// Sequential and Residual (main branch, then shortcut: torch's downsample batch norm included).
void find_batch_norms(Layer& layer, std::vector<BatchNorm2d*>& out) {
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    for (auto& child : seq->layers()) find_batch_norms(*child, out);
  } else if (auto* res = dynamic_cast<Residual*>(&layer)) {
    find_batch_norms(res->main(), out);
    find_batch_norms(res->shortcut(), out);
  } else if (auto* bn = dynamic_cast<BatchNorm2d*>(&layer)) {
    out.push_back(bn);
  }
}

}  // namespace

SyncBatchNorm::SyncBatchNorm(Layer& net, Communicator& communicator) : comm_(communicator) {
  find_batch_norms(net, layers_);
  for (BatchNorm2d* bn : layers_) bn->set_sync(this);
}

SyncBatchNorm::~SyncBatchNorm() {
  for (BatchNorm2d* bn : layers_) bn->set_sync(nullptr);
}

void SyncBatchNorm::all_reduce_average(Context& ctx, const Tensor& buffer) {
  comm_.all_reduce_average(buffer, ctx.device().is_cuda() ? ctx.stream() : nullptr);
}

}  // namespace aslnet
