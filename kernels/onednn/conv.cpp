// OnednnConv (kernels/conv_onednn.h): oneDNN's convolution primitives over the engine's tensors.
//
// Layouts: oneDNN names dimensions in NCHW order and places them in memory by a format tag. The
// engine's NHWC activations are {n, c, h, w} with the `nhwc` tag, and the primitives read and write
// them in place. Filters are another matter: oneDNN 2.6's fast implementations (brgconv and jit on
// AVX-512 and AVX2) want their own blocked filter layout, and with KRSC (`ohwi`) imposed they fall
// back to `ref:any`, a naive loop 10-100x slower than im2col. So the filter layout is left to oneDNN
// (`any`) and the filters are reordered, KRSC -> its layout before the forward and backward-data
// passes, and its layout -> KRSC after the backward-weights pass (where the reorder's `sum` post-op
// gives the accumulate of the engine's contract for free). A filter reorder reads and writes the
// weights once: K*C*R*S values against the N*P*Q*K*C*R*S multiply-adds of the convolution.
//
// Padding: the engine's output size floors (h + 2 pad - r) / stride + 1, so the right/bottom padding
// oneDNN needs is whatever makes its own size formula give the same number; it can be smaller than the
// left padding, even negative (a 1x1 stride-2 convolution of an even input drops the last row), which
// oneDNN accepts (PyTorch computes it the same way).
//
// Memory: every dnnl::memory is created once, without a buffer, and each call only points it at the
// caller's tensors or at parts of the workspace (set_data_handle); the argument maps are built once
// too. Scratchpads are in user mode, so oneDNN takes them from the layer's workspace instead of
// allocating per call. Workspace: [largest scratchpad | filters in oneDNN's layout | filter gradient
// in oneDNN's layout].
#include <algorithm>
#include <dnnl.hpp>
#include <unordered_map>

#include "engine/core/error.h"
#include "kernels/conv_onednn.h"
#include "kernels/onednn/threads.h"

namespace aslnet::kernels::onednn {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr size_t kAlign = 64;
size_t aligned(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// Right/bottom padding that makes oneDNN's output size equal the engine's (see the top of the file).
int64_t far_pad(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad) {
  return (out - 1) * stride + kernel - in - pad;
}

// A convolution of shape `s` as oneDNN describes it: NHWC activations, the engine's KRSC filters, the
// filters in a layout left to oneDNN (`any_weights`), strides and paddings.
struct ConvDescriptors {
  memory::desc src, krsc, any_weights, dst;
  memory::dims strides, pad_l, pad_r;
};

ConvDescriptors descriptors(const ConvShape& s) {
  ASLNET_CHECK(s.n > 0 && s.out_h() > 0 && s.out_w() > 0) << "oneDNN convolution: empty shape";
  const auto f32 = memory::data_type::f32;
  const memory::dims weight_dims{s.k, s.c, s.r, s.s};
  return {memory::desc({s.n, s.c, s.h, s.w}, f32, tag::nhwc),
          memory::desc(weight_dims, f32, tag::ohwi),
          memory::desc(weight_dims, f32, tag::any),
          memory::desc({s.n, s.k, s.out_h(), s.out_w()}, f32, tag::nhwc),
          {s.stride, s.stride},
          {s.pad, s.pad},
          {far_pad(s.h, s.out_h(), s.r, s.stride, s.pad), far_pad(s.w, s.out_w(), s.s, s.stride, s.pad)}};
}

}  // namespace

bool available() { return true; }

bool pays_off(const ConvShape& shape) { return shape.out_w() >= 4; }

std::string version() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

// A reorder between the engine's KRSC filters and a primitive's own layout, or nothing when they agree.
struct FilterReorder {
  bool needed = false;
  dnnl::reorder primitive;
  memory from, to, scratch;
  std::unordered_map<int, memory> args;

  FilterReorder() = default;
  FilterReorder(const memory::desc& from_md, const memory::desc& to_md, const dnnl::engine& engine, bool sum) {
    needed = from_md != to_md;
    if (!needed) return;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (sum) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    from = memory(from_md, engine, DNNL_MEMORY_NONE);
    to = memory(to_md, engine, DNNL_MEMORY_NONE);
    const dnnl::reorder::primitive_desc pd(engine, from_md, engine, to_md, attr);
    primitive = dnnl::reorder(pd);
    scratch = memory(pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    args = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, scratch}};
  }
  size_t scratch_bytes() const { return needed ? scratch.get_desc().get_size() : 0; }
  void run(dnnl::stream& stream, const void* src, void* dst, void* scratchpad) {
    from.set_data_handle(const_cast<void*>(src));
    to.set_data_handle(dst);
    if (scratch.get_desc().get_size() > 0) scratch.set_data_handle(scratchpad);
    primitive.execute(stream, args);
  }
};

struct OnednnConv::Impl {
  ConvShape shape;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::convolution_forward forward;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights backward_weights;
  FilterReorder to_forward, to_backward_data, from_backward_weights, from_backward_weights_sum;
  std::string impls;
  // Buffer-less memories, pointed at the caller's tensors or the workspace at each call.
  memory src, dst, fwd_weights, bwd_data_weights, diff_weights, scratch_fwd, scratch_bwd_data, scratch_bwd_weights;
  // Workspace offsets (see the top of the file).
  size_t scratch_bytes = 0, weights_offset = 0, diff_weights_offset = 0, total_bytes = 0;
  std::unordered_map<int, memory> fwd_args, bwd_data_args, bwd_weights_args;

  explicit Impl(const ConvShape& s) : shape(s) {
    const ConvDescriptors d = descriptors(s);
    const memory::desc &src_md = d.src, &krsc_md = d.krsc, &any_weights_md = d.any_weights, &dst_md = d.dst;
    const memory::dims &strides = d.strides, &pad_l = d.pad_l, &pad_r = d.pad_r;
    // oneDNN splits the work between threads when it creates a primitive, for the thread count it sees
    // then (OpenMP's, on this thread): that must already be the engine's, or a step runs a partition
    // made for another count (measured: every pass took a scheduler quantum, 4-16 ms, with --threads 1).
    use_engine_threads();
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

    const auto algo = dnnl::algorithm::convolution_direct;
    const dnnl::convolution_forward::primitive_desc fwd_pd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, src_md, any_weights_md, dst_md,
                                        strides, pad_l, pad_r),
        attr, engine);
    const dnnl::convolution_backward_data::primitive_desc bwd_data_pd(
        dnnl::convolution_backward_data::desc(algo, src_md, any_weights_md, dst_md, strides, pad_l, pad_r), attr,
        engine, fwd_pd);
    const dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd(
        dnnl::convolution_backward_weights::desc(algo, src_md, any_weights_md, dst_md, strides, pad_l, pad_r), attr,
        engine, fwd_pd);
    // The activations must be used in place: a primitive that wanted another layout would need reorders.
    ASLNET_CHECK(fwd_pd.src_desc() == src_md && fwd_pd.dst_desc() == dst_md && bwd_data_pd.diff_src_desc() == src_md &&
                 bwd_data_pd.diff_dst_desc() == dst_md && bwd_weights_pd.src_desc() == src_md &&
                 bwd_weights_pd.diff_dst_desc() == dst_md)
        << "oneDNN chose another activation layout than NHWC";
    forward = dnnl::convolution_forward(fwd_pd);
    backward_data = dnnl::convolution_backward_data(bwd_data_pd);
    backward_weights = dnnl::convolution_backward_weights(bwd_weights_pd);
    impls = "fwd " + std::string(fwd_pd.impl_info_str()) + ", bwd-data " + bwd_data_pd.impl_info_str() +
            ", bwd-weights " + bwd_weights_pd.impl_info_str();

    to_forward = FilterReorder(krsc_md, fwd_pd.weights_desc(), engine, false);
    to_backward_data = FilterReorder(krsc_md, bwd_data_pd.weights_desc(), engine, false);
    from_backward_weights = FilterReorder(bwd_weights_pd.diff_weights_desc(), krsc_md, engine, false);
    from_backward_weights_sum = FilterReorder(bwd_weights_pd.diff_weights_desc(), krsc_md, engine, true);

    src = memory(src_md, engine, DNNL_MEMORY_NONE);
    dst = memory(dst_md, engine, DNNL_MEMORY_NONE);
    fwd_weights = memory(fwd_pd.weights_desc(), engine, DNNL_MEMORY_NONE);
    bwd_data_weights = memory(bwd_data_pd.weights_desc(), engine, DNNL_MEMORY_NONE);
    diff_weights = memory(bwd_weights_pd.diff_weights_desc(), engine, DNNL_MEMORY_NONE);
    scratch_fwd = memory(fwd_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    scratch_bwd_data = memory(bwd_data_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    scratch_bwd_weights = memory(bwd_weights_pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    scratch_bytes = aligned(std::max({fwd_pd.scratchpad_desc().get_size(), bwd_data_pd.scratchpad_desc().get_size(),
                                      bwd_weights_pd.scratchpad_desc().get_size(), to_forward.scratch_bytes(),
                                      to_backward_data.scratch_bytes(), from_backward_weights.scratch_bytes(),
                                      from_backward_weights_sum.scratch_bytes()}));
    weights_offset = scratch_bytes;
    diff_weights_offset =
        weights_offset + aligned(std::max(fwd_pd.weights_desc().get_size(), bwd_data_pd.weights_desc().get_size()));
    // Without a reorder, accumulate still needs somewhere for oneDNN's overwriting gradient.
    total_bytes = diff_weights_offset + aligned(bwd_weights_pd.diff_weights_desc().get_size());

    // Backward's dy and dx are `dst` and `src` again (same descriptors), pointed elsewhere before each
    // pass; the maps hold handles to the same objects.
    fwd_args = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, fwd_weights}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCRATCHPAD, scratch_fwd}};
    bwd_data_args = {{DNNL_ARG_DIFF_DST, dst},
                     {DNNL_ARG_WEIGHTS, bwd_data_weights},
                     {DNNL_ARG_DIFF_SRC, src},
                     {DNNL_ARG_SCRATCHPAD, scratch_bwd_data}};
    bwd_weights_args = {{DNNL_ARG_SRC, src},
                        {DNNL_ARG_DIFF_DST, dst},
                        {DNNL_ARG_DIFF_WEIGHTS, diff_weights},
                        {DNNL_ARG_SCRATCHPAD, scratch_bwd_weights}};
  }

  char* at(void* workspace, size_t offset) { return static_cast<char*>(workspace) + offset; }

  // Points `weights` at the engine's filters, or at a copy in the primitive's layout.
  void prepare_weights(FilterReorder& reorder, memory& weights, const float* w, void* workspace) {
    if (!reorder.needed) {
      weights.set_data_handle(const_cast<float*>(w));
      return;
    }
    reorder.run(stream, w, at(workspace, weights_offset), workspace);
    weights.set_data_handle(at(workspace, weights_offset));
  }

  void run(const dnnl::primitive& p, memory& scratch, void* workspace, std::unordered_map<int, memory>& args) {
    if (scratch.get_desc().get_size() > 0) scratch.set_data_handle(workspace);
    p.execute(stream, args);
  }
};

OnednnConv::OnednnConv(const ConvShape& shape) : impl_(std::make_unique<Impl>(shape)) {}
OnednnConv::~OnednnConv() = default;
OnednnConv::OnednnConv(OnednnConv&&) noexcept = default;
OnednnConv& OnednnConv::operator=(OnednnConv&&) noexcept = default;

const ConvShape& OnednnConv::shape() const { return impl_->shape; }
size_t OnednnConv::workspace_bytes() const { return impl_->total_bytes; }
std::string OnednnConv::implementations() const { return impl_->impls; }

// The memories are shared handles inside a const object: a layer's passes never run concurrently.
// oneDNN's CPU stream runs each primitive to completion before execute returns (OpenMP runtime);
// the wait() is for form.
void OnednnConv::forward(const float* x, const float* w, float* y, void* workspace) const {
  Impl& m = *impl_;
  use_engine_threads();
  m.prepare_weights(m.to_forward, m.fwd_weights, w, workspace);
  m.src.set_data_handle(const_cast<float*>(x));
  m.dst.set_data_handle(y);
  m.run(m.forward, m.scratch_fwd, workspace, m.fwd_args);
  m.stream.wait();
}

void OnednnConv::backward_data(const float* dy, const float* w, float* dx, void* workspace) const {
  Impl& m = *impl_;
  use_engine_threads();
  m.prepare_weights(m.to_backward_data, m.bwd_data_weights, w, workspace);
  m.dst.set_data_handle(const_cast<float*>(dy));
  m.src.set_data_handle(dx);
  m.run(m.backward_data, m.scratch_bwd_data, workspace, m.bwd_data_args);
  m.stream.wait();
}

void OnednnConv::backward_filter(const float* x, const float* dy, float* dw, void* workspace, bool accumulate) const {
  Impl& m = *impl_;
  use_engine_threads();
  FilterReorder& reorder = accumulate ? m.from_backward_weights_sum : m.from_backward_weights;
  // oneDNN overwrites its weight gradient: it goes straight into dw only when no reorder follows and
  // nothing is to be accumulated.
  float* target = reorder.needed || accumulate ? reinterpret_cast<float*>(m.at(workspace, m.diff_weights_offset)) : dw;
  m.src.set_data_handle(const_cast<float*>(x));
  m.dst.set_data_handle(const_cast<float*>(dy));
  m.diff_weights.set_data_handle(target);
  m.run(m.backward_weights, m.scratch_bwd_weights, workspace, m.bwd_weights_args);
  if (reorder.needed) {
    reorder.run(m.stream, target, dw, workspace);  // with accumulate: the reorder's sum post-op adds
  } else if (accumulate) {
    const int64_t count = m.shape.k * m.shape.r * m.shape.s * m.shape.c;
    for (int64_t i = 0; i < count; ++i) dw[i] += target[i];
  }
  m.stream.wait();
}

struct OnednnConvInference::Impl {
  ConvShape shape;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  dnnl::convolution_forward primitive;
  std::string impl;
  memory src, dst, weights, bias, scratch;  // weights and bias own their buffers (allocated by oneDNN)
  std::unordered_map<int, memory> args;

  Impl(const ConvShape& s, const float* w, const float* b, bool relu) : shape(s) {
    const ConvDescriptors d = descriptors(s);
    use_engine_threads();  // as in OnednnConv: the partition is made for the thread count seen now
    const memory::desc bias_md({s.k}, memory::data_type::f32, tag::a);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    const dnnl::convolution_forward::primitive_desc pd(
        dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, d.src,
                                        d.any_weights, bias_md, d.dst, d.strides, d.pad_l, d.pad_r),
        attr, engine);
    ASLNET_CHECK(pd.src_desc() == d.src && pd.dst_desc() == d.dst)
        << "oneDNN chose another activation layout than NHWC";
    primitive = dnnl::convolution_forward(pd);
    impl = pd.impl_info_str();

    // The weights into the primitive's layout, once; the bias copied.
    weights = memory(pd.weights_desc(), engine);
    memory user_weights(d.krsc, engine, const_cast<float*>(w));
    dnnl::reorder(user_weights, weights).execute(stream, user_weights, weights);
    bias = memory(bias_md, engine);
    std::copy(b, b + s.k, static_cast<float*>(bias.get_data_handle()));
    stream.wait();

    src = memory(d.src, engine, DNNL_MEMORY_NONE);
    dst = memory(d.dst, engine, DNNL_MEMORY_NONE);
    scratch = memory(pd.scratchpad_desc(), engine, DNNL_MEMORY_NONE);
    args = {{DNNL_ARG_SRC, src},
            {DNNL_ARG_WEIGHTS, weights},
            {DNNL_ARG_BIAS, bias},
            {DNNL_ARG_DST, dst},
            {DNNL_ARG_SCRATCHPAD, scratch}};
  }
};

OnednnConvInference::OnednnConvInference(const ConvShape& shape, const float* weights, const float* bias, bool relu)
    : impl_(std::make_unique<Impl>(shape, weights, bias, relu)) {}
OnednnConvInference::~OnednnConvInference() = default;
OnednnConvInference::OnednnConvInference(OnednnConvInference&&) noexcept = default;
OnednnConvInference& OnednnConvInference::operator=(OnednnConvInference&&) noexcept = default;

const ConvShape& OnednnConvInference::shape() const { return impl_->shape; }
size_t OnednnConvInference::workspace_bytes() const { return impl_->scratch.get_desc().get_size(); }
std::string OnednnConvInference::implementation() const { return impl_->impl; }

void OnednnConvInference::forward(const float* x, float* y, void* workspace) const {
  Impl& m = *impl_;
  use_engine_threads();
  m.src.set_data_handle(const_cast<float*>(x));
  m.dst.set_data_handle(y);
  if (m.scratch.get_desc().get_size() > 0) m.scratch.set_data_handle(workspace);
  m.primitive.execute(m.stream, m.args);
  m.stream.wait();
}

}  // namespace aslnet::kernels::onednn
