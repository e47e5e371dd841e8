// BatchNorm2d's synchronised training forward and its backward (--sync-bn), as torch.nn.SyncBatchNorm:
// kernels/norm_sync.h has the math; here are the two all-reduces that make the statistics and the
// gradient those of the global batch.
//
// Forward: each replica sums its rows around the running mean, the replicas average [sums, sums of
// squares, rows] (one all-reduce), and every replica derives the same global mean and biased variance
// from them, normalises its own rows with them, and updates the running statistics with the global
// unbiased variance: every replica's running statistics stay equal, and equal to those of one replica
// that saw the whole batch.
// Backward: each replica writes dgamma and dbeta from its own rows (they are parameter gradients: the
// gradient reducer averages them, reported by the backward hook as for any layer), then the replicas
// average [sum dy, sum dy * (x - mean)] (one all-reduce) and each computes dx for its rows from the
// global sums. Gradient accumulation needs nothing more: each micro-batch's forward and backward
// synchronise that micro-batch, as torch's do under DDP's no_sync.
#include "engine/layers/batchnorm.h"
#include "kernels/norm_sync.h"

namespace aslnet {

void BatchNorm2d::forward_synced_cpu(Context& ctx, const Tensor& x) {
  double* stats = sync_stats_.data<double>();
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::batchnorm_sync_local_stats<T>(shape_, x.data<T>(), running_mean_.value.data<T>(), stats);
  });
  sync_->all_reduce_average(ctx, sync_stats_);
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::batchnorm_sync_statistics<T>(shape_.c, stats, sync_->replicas(), momentum_, eps_,
                                               save_mean_.data<T>(), save_invstd_.data<T>(),
                                               running_mean_.value.data<T>(), running_var_.value.data<T>());
    kernels::cpu::batchnorm_sync_normalize<T>(shape_, x.data<T>(), weight_.value.data<T>(), bias_.value.data<T>(),
                                              save_mean_.data<T>(), save_invstd_.data<T>(), y_.data<T>());
  });
}

void BatchNorm2d::forward_synced_cuda(Context& ctx, const Tensor& x) {
  float* scratch = static_cast<float*>(ctx.workspace());
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::batchnorm_sync_local_stats<T>(ctx.stream(), shape_, x.data<T>(), running_mean_.value.data<float>(),
                                                 sync_stats_.data<float>(), scratch);
  });
  sync_->all_reduce_average(ctx, sync_stats_);
  kernels::cuda::batchnorm_sync_statistics(ctx.stream(), shape_.c, sync_stats_.data<float>(), sync_->replicas(),
                                           momentum_, eps_, save_mean_.data<float>(), save_invstd_.data<float>(),
                                           running_mean_.value.data<float>(), running_var_.value.data<float>());
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::batchnorm_sync_normalize<T>(ctx.stream(), shape_, x.data<T>(), weight_.value.data<float>(),
                                               bias_.value.data<float>(), save_mean_.data<float>(),
                                               save_invstd_.data<float>(), y_.data<T>());
  });
}

void BatchNorm2d::backward_synced_cpu(Context& ctx, const Tensor& dy, bool accumulate) {
  double* sums = sync_grad_sums_.data<double>();
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::batchnorm_sync_local_grad_sums<T>(shape_, input_.data<T>(), dy.data<T>(), save_mean_.data<T>(),
                                                    save_invstd_.data<T>(), sums, weight_.grad.data<T>(),
                                                    bias_.grad.data<T>(), accumulate);
  });
  sync_->all_reduce_average(ctx, sync_grad_sums_);
  dispatch_real(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::batchnorm_sync_backward_dx<T>(shape_, input_.data<T>(), dy.data<T>(), weight_.value.data<T>(),
                                                save_mean_.data<T>(), save_invstd_.data<T>(), sums,
                                                sync_stats_.data<double>(), dx_.data<T>());
  });
}

void BatchNorm2d::backward_synced_cuda(Context& ctx, const Tensor& dy, bool accumulate) {
  float* scratch = static_cast<float*>(ctx.workspace());
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::batchnorm_sync_local_grad_sums<T>(ctx.stream(), shape_, input_.data<T>(), dy.data<T>(),
                                                     save_mean_.data<float>(), save_invstd_.data<float>(),
                                                     sync_grad_sums_.data<float>(), weight_.grad.data<float>(),
                                                     bias_.grad.data<float>(), accumulate, scratch);
  });
  sync_->all_reduce_average(ctx, sync_grad_sums_);
  dispatch_gpu(dtype_, [&](auto tag) {
    using T = decltype(tag);
    kernels::cuda::batchnorm_sync_backward_dx<T>(ctx.stream(), shape_, input_.data<T>(), dy.data<T>(),
                                                 weight_.value.data<float>(), save_mean_.data<float>(),
                                                 save_invstd_.data<float>(), sync_grad_sums_.data<float>(),
                                                 sync_stats_.data<float>(), dx_.data<T>());
  });
}

}  // namespace aslnet
