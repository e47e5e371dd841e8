// Convolution on cuDNN's legacy (v7-style) convolution API: NHWC activations, KRSC filters, f32 or
// bf16 data with fp32 accumulation. Each CudnnConv is built once per layer shape at setup: it owns the
// descriptors, lists the algorithms cuDNN supports for the shape, and picks one per pass (the fastest
// when each is timed here, or the first of cudnnGet*_v7's heuristics), so a training step only launches.
//
// The timing is ours, with CUDA events, not cudnnFind*Ex: cuDNN 9's Find captures a CUDA graph in
// global capture mode, and while it does, every other thread's cudaMalloc or cudaDeviceSynchronize
// fails with "operation not permitted when stream is capturing". Replicas sharing a GPU set up their
// models on parallel threads, so Find made them fail (H100, cuDNN 9.19: a thread calling
// cudaDeviceSynchronize beside a Find loop failed 552,796 times in 811,085).
//
// Why the legacy API: it is what every framework's convolution path has used for years, it covers
// all the shapes of a ResNet, and it keeps the code short and readable. cuDNN 9 marks it deprecated
// in favour of the graph API; the declarations only warn when CUDNN_WARN_DEPRECATED is defined, but a
// build that defines it (or a future header that always warns) must not fail under -Werror, so the
// warning is silenced here, in this one file, and nowhere else.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <climits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/buffer.h"
#include "engine/core/cuda_check.h"
#include "engine/core/device_peaks.h"
#include "engine/core/error.h"
#include "kernels/conv.h"

namespace aslnet::kernels::cuda {

namespace {

// No algorithm that wants more scratch than this is chosen (FFT-like algorithms can ask for many
// GiB on large shapes; a ResNet step should not spend its memory on one convolution's scratch).
constexpr size_t kMaxWorkspaceBytes = size_t(1) << 30;

enum Pass : int { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };
constexpr int kPasses = 3;
const char* pass_name(int pass) {
  static const char* const names[kPasses] = {"forward", "backward data", "backward filter"};
  return names[pass];
}

// A cuDNN descriptor that destroys itself. Destructors log instead of throwing.
template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Descriptor {
 public:
  Descriptor() { CUDNN_CHECK(Create(&desc_)); }
  ~Descriptor() {
    if (desc_ == nullptr) return;
    const cudnnStatus_t status = Destroy(desc_);
    if (status != CUDNN_STATUS_SUCCESS)
      ASLNET_LOG_ERROR(std::string("destroying a cuDNN descriptor: ") + cudnnGetErrorString(status));
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  T get() const { return desc_; }

 private:
  T desc_ = nullptr;
};

using TensorDesc = Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;

// The three passes' perf structs have the same fields under different types: one view of them.
struct Perf {
  int algo = -1;
  cudnnStatus_t status = CUDNN_STATUS_NOT_SUPPORTED;
  size_t memory = 0;
  cudnnDeterminism_t determinism = CUDNN_NON_DETERMINISTIC;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

template <class P>
std::vector<Perf> to_perf(const std::vector<P>& results, int count) {
  std::vector<Perf> out;
  for (int i = 0; i < count && i < int(results.size()); ++i) {
    const P& p = results[size_t(i)];
    out.push_back(Perf{int(p.algo), p.status, p.memory, p.determinism, p.mathType});
  }
  return out;
}

// An algorithm a pass can run: with which math type (the descriptor of that pass is set to it) and
// how much scratch it needs.
struct Candidate {
  int algo = -1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};

cudnnDataType_t cudnn_dtype(DType dtype) {
  switch (dtype) {
    case DType::F32: return CUDNN_DATA_FLOAT;
    case DType::BF16: return CUDNN_DATA_BFLOAT16;
    default: break;
  }
  ASLNET_CHECK(false) << "cuDNN convolution supports f32 and bf16, got " << dtype_name(dtype);
  return CUDNN_DATA_FLOAT;
}

bool strict_fp32(const ConvOptions& o) { return o.dtype == DType::F32 && !o.allow_tf32; }

// The math type the descriptors ask for before cuDNN proposes algorithms. FMA math is the only one
// that never uses TF32 tensor cores for fp32 data (DEFAULT math allows TF32 on Ampere and later).
cudnnMathType_t requested_math(const ConvOptions& o) {
  return strict_fp32(o) ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

// cuDNN's results carry their own math type; only some are acceptable. Strict fp32 takes FMA math
// alone; otherwise anything but ALLOW_CONVERSION (which would round fp32 data down to fp16).
bool math_allowed(const ConvOptions& o, cudnnMathType_t math) {
  if (strict_fp32(o)) return math == CUDNN_FMA_MATH;
  return math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The algorithms cuDNN documents as non-deterministic (atomics), excluded under `deterministic`
// even if a perf result were to claim otherwise.
bool known_nondeterministic(int pass, int algo) {
  if (pass == kBackwardData) return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  if (pass == kBackwardFilter)
    return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  return false;
}

bool usable(const ConvOptions& o, int pass, const Perf& p) {
  if (p.status != CUDNN_STATUS_SUCCESS || p.algo < 0) return false;
  if (!math_allowed(o, p.math)) return false;
  if (o.deterministic && (p.determinism != CUDNN_DETERMINISTIC || known_nondeterministic(pass, p.algo)))
    return false;
  return true;
}

int to_int(int64_t v, const char* what) {
  ASLNET_CHECK(v > 0 && v <= INT_MAX) << "convolution " << what << " = " << v << " is out of cuDNN's range";
  return int(v);
}

std::string describe(const ConvShape& s, const ConvOptions& o) {
  std::ostringstream out;
  out << "n" << s.n << " " << s.h << "x" << s.w << "x" << s.c << " -> k" << s.k << " " << s.r << "x" << s.s
      << " stride " << s.stride << " pad " << s.pad << " (" << dtype_name(o.dtype)
      << (o.dtype == DType::F32 ? (o.allow_tf32 ? ", tf32" : ", strict fp32") : "")
      << (o.deterministic ? ", deterministic" : "") << ")";
  return out.str();
}

}  // namespace

struct CudnnConv::Impl {
  ConvShape shape;
  ConvOptions options;
  cudnnDataType_t dtype = CUDNN_DATA_FLOAT;
  TensorDesc x, y;  // x: [n, c, h, w] NHWC; y (and dy): [n, k, oh, ow] NHWC
  FilterDesc w;     // [k, c, r, s] in NHWC filter format = KRSC in memory
  // One convolution descriptor per pass: each carries the math type of its own algorithm (cuDNN
  // selects kernels by algorithm and math type together).
  std::array<ConvDesc, kPasses> conv;
  std::array<std::vector<Candidate>, kPasses> supported;  // in cuDNN's heuristic order
  std::array<Candidate, kPasses> chosen;
  ConvAlgos algos;

  // A convolution descriptor for this shape with the given math type.
  void set_conv(cudnnConvolutionDescriptor_t desc, cudnnMathType_t math) const {
    const int pad = int(shape.pad), stride = int(shape.stride);
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(desc, math));
  }

  cudnnStatus_t workspace_size(cudnnHandle_t h, int pass, cudnnConvolutionDescriptor_t desc, int algo,
                               size_t* bytes) const {
    switch (pass) {
      case kForward:
        return cudnnGetConvolutionForwardWorkspaceSize(h, x.get(), w.get(), desc, y.get(),
                                                       cudnnConvolutionFwdAlgo_t(algo), bytes);
      case kBackwardData:
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, w.get(), y.get(), desc, x.get(),
                                                            cudnnConvolutionBwdDataAlgo_t(algo), bytes);
      default:
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, x.get(), y.get(), desc, w.get(),
                                                              cudnnConvolutionBwdFilterAlgo_t(algo), bytes);
    }
  }

  // cuDNN's heuristics: every algorithm with a status, best first.
  std::vector<Perf> heuristics(cudnnHandle_t h, int pass, cudnnConvolutionDescriptor_t desc) const {
    int max_count = 0, count = 0;
    switch (pass) {
      case kForward: {
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_count));
        std::vector<cudnnConvolutionFwdAlgoPerf_t> r(size_t(std::max(max_count, 1)));
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, x.get(), w.get(), desc, y.get(), int(r.size()),
                                                           &count, r.data()));
        return to_perf(r, count);
      }
      case kBackwardData: {
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_count));
        std::vector<cudnnConvolutionBwdDataAlgoPerf_t> r(size_t(std::max(max_count, 1)));
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, w.get(), y.get(), desc, x.get(), int(r.size()),
                                                                &count, r.data()));
        return to_perf(r, count);
      }
      default: {
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_count));
        std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> r(size_t(std::max(max_count, 1)));
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, x.get(), y.get(), desc, w.get(),
                                                                  int(r.size()), &count, r.data()));
        return to_perf(r, count);
      }
    }
  }

  // One run of `pass` with `algo` on scratch buffers: x/dx share one buffer, y/dy another and w/dw a
  // third; each call reads two of them and writes the third, and their contents do not matter.
  cudnnStatus_t run_pass(cudnnHandle_t h, int pass, cudnnConvolutionDescriptor_t desc, int algo, void* xb, void* wb,
                         void* yb, void* workspace, size_t workspace_bytes) const {
    const float alpha = 1.0f, beta = 0.0f;
    switch (pass) {
      case kForward:
        return cudnnConvolutionForward(h, &alpha, x.get(), xb, w.get(), wb, desc, cudnnConvolutionFwdAlgo_t(algo),
                                       workspace, workspace_bytes, &beta, y.get(), yb);
      case kBackwardData:
        return cudnnConvolutionBackwardData(h, &alpha, w.get(), wb, y.get(), yb, desc,
                                            cudnnConvolutionBwdDataAlgo_t(algo), workspace, workspace_bytes, &beta,
                                            x.get(), xb);
      default:
        return cudnnConvolutionBackwardFilter(h, &alpha, x.get(), xb, y.get(), yb, desc,
                                              cudnnConvolutionBwdFilterAlgo_t(algo), workspace, workspace_bytes,
                                              &beta, w.get(), wb);
    }
  }

  // Seconds per run of `c` (the mean of kTimedRuns after an untimed run), or a negative value if cuDNN
  // refuses to run it: a refusal shows on the untimed run, so the timed ones can only fail loudly.
  double time_candidate(cudnnHandle_t h, Device device, cudaStream_t stream, int pass, const Candidate& c, void* xb,
                        void* wb, void* yb, void* workspace, size_t workspace_bytes) const {
    constexpr int kTimedRuns = 3;
    ConvDesc desc;
    set_conv(desc.get(), c.math);
    auto run = [&] { return run_pass(h, pass, desc.get(), c.algo, xb, wb, yb, workspace, workspace_bytes); };
    if (run() != CUDNN_STATUS_SUCCESS) return -1.0;
    return seconds_per_call(device, stream, /*warmup=*/0, kTimedRuns, [&] { CUDNN_CHECK(run()); });
  }

  // Every algorithm of `pass` that cuDNN reports as supported for this shape with an acceptable math
  // type (and deterministic, if asked), whose workspace size cuDNN can also state. One entry per
  // algorithm: the first (best-ranked) acceptable math type.
  std::vector<Candidate> list_supported(cudnnHandle_t h, int pass) const {
    ConvDesc desc;
    set_conv(desc.get(), requested_math(options));
    std::vector<Candidate> out;
    for (const Perf& p : heuristics(h, pass, desc.get())) {
      if (!usable(options, pass, p)) continue;
      if (std::any_of(out.begin(), out.end(), [&](const Candidate& c) { return c.algo == p.algo; })) continue;
      ConvDesc probe;
      set_conv(probe.get(), p.math);
      size_t bytes = 0;
      if (workspace_size(h, pass, probe.get(), p.algo, &bytes) != CUDNN_STATUS_SUCCESS) continue;
      out.push_back(Candidate{p.algo, p.math, bytes});
    }
    return out;
  }

  const Candidate* find_supported(int pass, int algo) const {
    for (const Candidate& c : supported[size_t(pass)])
      if (c.algo == algo) return &c;
    return nullptr;
  }

  // The candidate set_algos would use for `algo`: the current choice if it is that algorithm, else the
  // listed one.
  const Candidate* candidate(int pass, int algo) const {
    if (chosen[size_t(pass)].algo == algo) return &chosen[size_t(pass)];
    return find_supported(pass, algo);
  }

  // Asks cuDNN for the workspace of `algo` with the math type this object would run it with.
  size_t query_workspace(cudnnHandle_t h, int pass, int algo) const {
    const Candidate* c = candidate(pass, algo);
    ConvDesc desc;
    set_conv(desc.get(), c != nullptr ? c->math : requested_math(options));
    size_t bytes = 0;
    CUDNN_CHECK(workspace_size(h, pass, desc.get(), algo, &bytes));
    return bytes;
  }

  void use(int pass, const Candidate& c) {
    set_conv(conv[size_t(pass)].get(), c.math);
    chosen[size_t(pass)] = c;
    (pass == kForward ? algos.forward : pass == kBackwardData ? algos.backward_data : algos.backward_filter) = c.algo;
  }

  // Chooses every pass's algorithm: the fastest measured one (benchmark) or the best-ranked by the
  // heuristics, among the supported ones that fit in kMaxWorkspaceBytes.
  void choose(cudnnHandle_t h) {
    std::array<std::vector<Candidate>, kPasses> fitting;
    size_t largest = 0;
    for (int pass = 0; pass < kPasses; ++pass) {
      for (const Candidate& c : supported[size_t(pass)])
        if (c.workspace <= kMaxWorkspaceBytes) fitting[size_t(pass)].push_back(c);
      ASLNET_CHECK(!fitting[size_t(pass)].empty())
          << "cuDNN offers no " << pass_name(pass) << " convolution algorithm for " << describe(shape, options)
          << " within " << (kMaxWorkspaceBytes >> 20) << " MiB of workspace";
      for (const Candidate& c : fitting[size_t(pass)]) largest = std::max(largest, c.workspace);
    }
    if (!options.benchmark) {
      for (int pass = 0; pass < kPasses; ++pass) use(pass, fitting[size_t(pass)].front());
      return;
    }

    // Scratch buffers for the timed search, freed when this returns (cudaFree waits for the device).
    int gpu = 0;
    CUDA_CHECK(cudaGetDevice(&gpu));
    cudaStream_t stream = nullptr;
    CUDNN_CHECK(cudnnGetStream(h, &stream));
    const size_t elem = dtype == CUDNN_DATA_FLOAT ? 4 : 2;
    const size_t x_bytes = size_t(shape.n * shape.h * shape.w * shape.c) * elem;
    const size_t w_bytes = size_t(shape.k * shape.r * shape.s * shape.c) * elem;
    const size_t y_bytes = size_t(shape.n * shape.out_h() * shape.out_w() * shape.k) * elem;
    Buffer xb = Buffer::device(x_bytes, gpu), wb = Buffer::device(w_bytes, gpu), yb = Buffer::device(y_bytes, gpu);
    // The search only tries algorithms whose scratch fits in what it is given. If the largest does
    // not fit on the GPU now (setup of a big model), search among those the heuristics rank first.
    Buffer ws;
    try {
      ws = Buffer::device(largest, gpu);
    } catch (const Error&) {
      size_t modest = 0;
      for (const auto& f : fitting) modest = std::max(modest, f.front().workspace);
      ws = Buffer::device(modest, gpu);
    }
    // Zeros rather than whatever the allocator left: the search then never sees NaNs or denormals.
    CUDA_CHECK(cudaMemsetAsync(xb.data(), 0, x_bytes, stream));
    CUDA_CHECK(cudaMemsetAsync(wb.data(), 0, w_bytes, stream));
    CUDA_CHECK(cudaMemsetAsync(yb.data(), 0, y_bytes, stream));

    for (int pass = 0; pass < kPasses; ++pass) {
      const Candidate* best = nullptr;
      double best_seconds = 0.0;
      for (const Candidate& c : fitting[size_t(pass)]) {
        if (c.workspace > ws.bytes()) continue;
        const double seconds = time_candidate(h, Device::cuda(gpu), stream, pass, c, xb.data(), wb.data(), yb.data(),
                                              ws.data(), ws.bytes());
        if (seconds >= 0.0 && (best == nullptr || seconds < best_seconds)) best = &c, best_seconds = seconds;
      }
      // Nothing ran (every candidate refused): the heuristics' choice, which is known to be supported.
      use(pass, best != nullptr ? *best : fitting[size_t(pass)].front());
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
  }

  void check_workspace(int pass, size_t given) const {
    ASLNET_CHECK(given >= chosen[size_t(pass)].workspace)
        << "cuDNN " << pass_name(pass) << " algorithm " << chosen[size_t(pass)].algo << " needs "
        << chosen[size_t(pass)].workspace << " bytes of workspace, got " << given;
  }
};

CudnnConv::CudnnConv(cudnnHandle_t handle, const ConvShape& shape, const ConvOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.shape = shape;
  m.options = options;
  m.dtype = cudnn_dtype(options.dtype);
  ASLNET_CHECK(shape.stride >= 1 && shape.pad >= 0 && shape.out_h() > 0 && shape.out_w() > 0)
      << "invalid convolution shape " << describe(shape, options);
  const int n = to_int(shape.n, "batch"), c = to_int(shape.c, "input channels"), h = to_int(shape.h, "height"),
            w = to_int(shape.w, "width"), k = to_int(shape.k, "output channels"), r = to_int(shape.r, "filter height"),
            s = to_int(shape.s, "filter width");
  to_int(shape.stride, "stride");
  ASLNET_CHECK(shape.pad <= INT_MAX) << "convolution padding " << shape.pad << " is out of cuDNN's range";
  const int oh = int(shape.out_h()), ow = int(shape.out_w());

  CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.x.get(), CUDNN_TENSOR_NHWC, m.dtype, n, c, h, w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(m.y.get(), CUDNN_TENSOR_NHWC, m.dtype, n, k, oh, ow));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(m.w.get(), m.dtype, CUDNN_TENSOR_NHWC, k, c, r, s));
  for (auto& d : m.conv) m.set_conv(d.get(), requested_math(options));

  // cuDNN must agree with ConvShape about the output size.
  int dn = 0, dc = 0, dh = 0, dw = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(m.conv[0].get(), m.x.get(), m.w.get(), &dn, &dc, &dh, &dw));
  ASLNET_CHECK(dn == n && dc == k && dh == oh && dw == ow)
      << "cuDNN computes a " << dn << "x" << dc << "x" << dh << "x" << dw << " output for " << describe(shape, options);

  for (int pass = 0; pass < kPasses; ++pass) m.supported[size_t(pass)] = m.list_supported(handle, pass);
  m.choose(handle);
}

CudnnConv::~CudnnConv() = default;
CudnnConv::CudnnConv(CudnnConv&&) noexcept = default;
CudnnConv& CudnnConv::operator=(CudnnConv&&) noexcept = default;

const ConvShape& CudnnConv::shape() const { return impl_->shape; }
const ConvAlgos& CudnnConv::algos() const { return impl_->algos; }

void CudnnConv::set_algos(const ConvAlgos& algos) {
  Impl& m = *impl_;
  const std::array<int, kPasses> wanted = {algos.forward, algos.backward_data, algos.backward_filter};
  // Check all three before changing anything, so a bad request leaves the object as it was.
  std::array<const Candidate*, kPasses> found{};
  for (int pass = 0; pass < kPasses; ++pass) {
    if (wanted[size_t(pass)] < 0) continue;  // negative: keep the current choice
    found[size_t(pass)] = m.candidate(pass, wanted[size_t(pass)]);
    ASLNET_CHECK(found[size_t(pass)] != nullptr)
        << "cuDNN " << pass_name(pass) << " algorithm " << wanted[size_t(pass)] << " is not supported for "
        << describe(m.shape, m.options);
  }
  for (int pass = 0; pass < kPasses; ++pass)
    if (found[size_t(pass)] != nullptr) m.use(pass, Candidate(*found[size_t(pass)]));  // a copy: it may alias chosen
}

size_t CudnnConv::workspace_bytes() const {
  size_t most = 0;
  for (const Candidate& c : impl_->chosen) most = std::max(most, c.workspace);
  return most;
}

namespace {
std::vector<int> algos_of(const std::vector<Candidate>& candidates) {
  std::vector<int> out;
  for (const Candidate& c : candidates) out.push_back(c.algo);
  return out;
}
}  // namespace

// The lists are made once, at construction, with the handle given there (set_algos needs them and
// takes no handle); `handle` is accepted for symmetry with the workspace queries.
std::vector<int> CudnnConv::supported_forward_algos(cudnnHandle_t) const { return algos_of(impl_->supported[kForward]); }
std::vector<int> CudnnConv::supported_backward_data_algos(cudnnHandle_t) const {
  return algos_of(impl_->supported[kBackwardData]);
}
std::vector<int> CudnnConv::supported_backward_filter_algos(cudnnHandle_t) const {
  return algos_of(impl_->supported[kBackwardFilter]);
}

size_t CudnnConv::forward_workspace_bytes(cudnnHandle_t handle, int algo) const {
  return impl_->query_workspace(handle, kForward, algo);
}
size_t CudnnConv::backward_data_workspace_bytes(cudnnHandle_t handle, int algo) const {
  return impl_->query_workspace(handle, kBackwardData, algo);
}
size_t CudnnConv::backward_filter_workspace_bytes(cudnnHandle_t handle, int algo) const {
  return impl_->query_workspace(handle, kBackwardFilter, algo);
}

// alpha and beta are float for both f32 and bf16 data (cuDNN's scaling parameters follow the compute
// type, not the data type, except for double).
void CudnnConv::forward(cudnnHandle_t handle, const void* x, const void* w, void* y, void* workspace,
                        size_t workspace_bytes) const {
  const Impl& m = *impl_;
  m.check_workspace(kForward, workspace_bytes);
  const float alpha = 1.0f, beta = 0.0f;
  CUDNN_CHECK(cudnnConvolutionForward(handle, &alpha, m.x.get(), x, m.w.get(), w, m.conv[kForward].get(),
                                      cudnnConvolutionFwdAlgo_t(m.chosen[kForward].algo), workspace,
                                      workspace_bytes, &beta, m.y.get(), y));
}

void CudnnConv::backward_data(cudnnHandle_t handle, const void* dy, const void* w, void* dx, void* workspace,
                              size_t workspace_bytes) const {
  const Impl& m = *impl_;
  m.check_workspace(kBackwardData, workspace_bytes);
  const float alpha = 1.0f, beta = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &alpha, m.w.get(), w, m.y.get(), dy, m.conv[kBackwardData].get(),
                                           cudnnConvolutionBwdDataAlgo_t(m.chosen[kBackwardData].algo), workspace,
                                           workspace_bytes, &beta, m.x.get(), dx));
}

void CudnnConv::backward_filter(cudnnHandle_t handle, const void* x, const void* dy, void* dw, void* workspace,
                                size_t workspace_bytes, bool accumulate) const {
  const Impl& m = *impl_;
  m.check_workspace(kBackwardFilter, workspace_bytes);
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, &alpha, m.x.get(), x, m.y.get(), dy,
                                             m.conv[kBackwardFilter].get(),
                                             cudnnConvolutionBwdFilterAlgo_t(m.chosen[kBackwardFilter].algo),
                                             workspace, workspace_bytes, &beta, m.w.get(), dw));
}

}  // namespace aslnet::kernels::cuda
