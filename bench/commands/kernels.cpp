// aslnet bench kernels: every convolution, batch-norm and linear layer of a ResNet timed alone, forward
// and backward, at a given batch, image size and precision, against the device's peaks measured in the
// same run (engine/core/device_peaks.h). Identical configurations are timed once and counted: a
// ResNet-50 has 53 convolutions but far fewer distinct ones, and a user wants to know which shapes
// cost the most in all (time x count), not the same row five times.
//
// How a layer is reached: the model is set up and runs one training forward and one backward, so
// every layer holds its input (and batch norm its batch statistics, mixed precision its fresh bf16
// weight copies). Then each distinct layer runs its own forward and backward through the Layer
// interface, on the input it kept and a random output gradient. Backward is what the layer computes in
// training: its parameter gradients, and its input gradient unless it is the network's first layer.
//
// Work counted, so rates compare with the peaks:
//   convolution: 2*N*K*C*R*S*P*Q flops forward; backward = data + filter gradient = 2x forward, or 1x
//     when the layer needs no input gradient. Linear: the same with 2*batch*in*out.
//   batch norm: activation bytes read and written at the least (forward reads x, writes y: 2|x|;
//     backward reads x and dy, writes dx: 3|x|). The kernels read x more than once and touch small
//     per-channel vectors too, so this is a lower bound on traffic, and its GB/s one on bandwidth.
// Timing: warm-up calls, then --iters calls; CUDA events on the compute stream, steady_clock on the CPU.
//
// CPU backends: with the fast kernels (--cpu-kernels fast, the default where oneDNN is built in) a
// second copy of the model is set up on the reference kernels, and every convolution row is timed on
// both: the table's main columns are the fast kernels, the `ref` columns the reference, and `x` is
// reference time / fast time. Batch norm and linear rows run the same code on both, so they are timed once.
#include <fmt/chrono.h>
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "app/cli_checks.h"
#include "app/device_options.h"
#include "bench/commands/bench.h"
#include "engine/core/device_peaks.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/layers/residual.h"
#include "kernels/cpu_kernels.h"
#include "models/resnet.h"

namespace aslnet::bench {

namespace {

struct KernelOptions {
  std::string arch = "resnet18", stem = "imagenet", device = "auto", precision = "fp32", json,
              out = "runs/bench-kernels";
  double width = 1.0;
  int64_t batch = 64;
  int image_size = 64, iters = 10, warmup = 3, threads = 0;
  bool tf32 = false;
};

// One distinct layer configuration: the layers that share it and what its first layer measured.
struct Row {
  std::string op;                   // "conv", "batchnorm" or "linear"
  std::string shape;                // the whole configuration, readable: rows with the same text are the same work
  std::vector<std::string> layers;  // torchvision's names of the layers sharing it, in network order
  Layer* layer = nullptr;           // the one that is timed
  Tensor input;                     // what its forward kept
  Shape out;
  bool needs_input_grad = true;
  bool compute_bound = true;          // work in flops (conv, linear) or in bytes (batch norm)
  double fwd_work = 0, bwd_work = 0;  // per call
  double peak = 0;                    // what its rates compare with: a matrix product's TFLOP/s, or a copy's GB/s
  double fwd_seconds = 0, bwd_seconds = 0;
  // CPU, fast kernels: the same layer set up on the reference kernels (convolutions only), its times,
  // and oneDNN's implementations of the fast one.
  Layer* reference_layer = nullptr;
  Tensor reference_input;
  double reference_fwd_seconds = 0, reference_bwd_seconds = 0;
  std::string implementations;

  const char* unit() const { return compute_bound ? "TFLOP/s" : "GB/s"; }
  double fwd_rate() const { return fwd_work / fwd_seconds / (compute_bound ? 1e12 : 1e9); }
  double bwd_rate() const { return bwd_work / bwd_seconds / (compute_bound ? 1e12 : 1e9); }
  double percent_of_peak(double rate) const { return peak > 0 ? 100 * rate / peak : 0; }
};

std::string dims(const Shape& s) {
  std::string text;
  for (int i = 0; i < s.rank(); ++i) text += (i ? "x" : "") + std::to_string(s[i]);
  return text;
}

// "layer1.0.conv1", from the layer's first parameter ("layer1.0.conv1.weight").
std::string layer_name(Layer& layer) {
  std::vector<Parameter*> params;
  layer.collect_parameters(params);
  const std::string& name = params.front()->name;
  return name.substr(0, name.rfind('.'));
}

Row new_row(const char* op, Layer& layer, const Tensor& input, const Shape& out) {
  Row row;
  row.op = op;
  row.layer = &layer;
  row.input = input;
  row.out = out;
  row.needs_input_grad = layer.needs_input_grad();
  return row;
}

Row describe_conv(Conv2d& conv) {
  const kernels::ConvShape& s = conv.conv_shape();
  Row row = new_row("conv", conv, conv.input(), Shape{s.n, s.out_h(), s.out_w(), s.k});
  row.shape = fmt::format("{} {}x{}/{} pad {} -> {}{}", dims(row.input.shape()), s.r, s.s, s.stride, s.pad,
                          dims(row.out), row.needs_input_grad ? "" : " (no dx)");
  row.fwd_work = 2 * s.macs();
  row.bwd_work = (row.needs_input_grad ? 2 : 1) * row.fwd_work;
  if (kernels::cpu_kernels() == kernels::CpuKernels::Fast)
    row.implementations = conv.onednn() != nullptr ? conv.onednn()->implementations()
                                                   : "reference (oneDNN does not pay off on this shape)";
  return row;
}

Row describe_batchnorm(BatchNorm2d& bn) {
  Row row = new_row("batchnorm", bn, bn.input(), bn.input().shape());
  row.compute_bound = false;
  row.shape = dims(row.out);
  const double bytes = double(row.input.bytes());
  row.fwd_work = 2 * bytes;
  row.bwd_work = 3 * bytes;
  return row;
}

Row describe_linear(Linear& fc) {
  const int64_t batch = fc.input().shape()[0];
  Row row = new_row("linear", fc, fc.input(), Shape{batch, fc.out_features()});
  row.shape = fmt::format("{} -> {}{}", dims(row.input.shape()), dims(row.out), row.needs_input_grad ? "" : " (no dx)");
  row.fwd_work = 2.0 * double(batch) * double(fc.in_features()) * double(fc.out_features());
  row.bwd_work = (row.needs_input_grad ? 2 : 1) * row.fwd_work;
  return row;
}

std::optional<Row> describe(Layer& layer) {
  if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return describe_conv(*conv);
  if (auto* bn = dynamic_cast<BatchNorm2d*>(&layer)) return describe_batchnorm(*bn);
  if (auto* fc = dynamic_cast<Linear*>(&layer)) return describe_linear(*fc);
  return std::nullopt;  // ReLU and pooling: not benchmarked here
}

// Walks the network in order, merging layers of the same configuration into one row.
void collect_rows(Layer& layer, std::vector<Row>& rows) {
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    for (const auto& child : seq->layers()) collect_rows(*child, rows);
    return;
  }
  if (auto* res = dynamic_cast<Residual*>(&layer)) {
    collect_rows(res->main(), rows);
    collect_rows(res->shortcut(), rows);
    return;
  }
  std::optional<Row> row = describe(layer);
  if (!row) return;
  auto same =
      std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.op == row->op && r.shape == row->shape; });
  if (same == rows.end()) same = rows.insert(rows.end(), std::move(*row));
  same->layers.push_back(layer_name(layer));
}

// The model with torchvision's initialisation (made on the CPU, as training does), set up on the
// device, after one training forward and backward on random data.
std::unique_ptr<Model> prepared_model(Context& ctx, const KernelOptions& o, DType dtype) {
  auto model = make_initialised_model({o.arch, o.stem, o.width, 29, 3}, ctx.rng(), dtype, ctx.device());
  model->setup(ctx, o.batch, o.image_size, o.image_size);
  const Tensor images = random_uniform(model->input_shape(), dtype, ctx.device(), 1);
  const Tensor dlogits = random_uniform(Shape{o.batch, model->info().num_classes}, dtype, ctx.device(), 2);
  model->forward(ctx, images, true);
  model->backward(ctx, dlogits);
  ctx.synchronize();
  return model;
}

// Every row's output gradient is a read-only view of one random buffer, as large as the largest.
Tensor gradient_pool(const std::vector<Row>& rows, DType dtype, Device device) {
  int64_t largest = 1;
  for (const Row& row : rows) largest = std::max(largest, row.out.numel());
  return random_uniform(Shape{largest}, dtype, device, 3);
}

void time_row(Context& ctx, Row& row, const Tensor& pool, int warmup, int iters) {
  const Tensor dy = pool.slice(0, row.out);
  row.fwd_seconds = seconds_per_call(ctx, warmup, iters, [&] { row.layer->forward(ctx, row.input, true); });
  row.bwd_seconds = seconds_per_call(ctx, warmup, iters, [&] { row.layer->backward(ctx, dy, false); });
  if (row.reference_layer == nullptr) return;
  Layer& ref = *row.reference_layer;
  row.reference_fwd_seconds = seconds_per_call(ctx, warmup, iters, [&] { ref.forward(ctx, row.reference_input, true); });
  row.reference_bwd_seconds = seconds_per_call(ctx, warmup, iters, [&] { ref.backward(ctx, dy, false); });
}

// The report: a header, one line per row as soon as it is timed, the count-weighted totals.
// On the CPU, flop rates read in GFLOP/s (the JSON keeps TFLOP/s on every device).
class Table {
 public:
  Table(const std::vector<Row>& rows, bool cpu, bool compare) : cpu_(cpu), compare_(compare) {
    for (const Row& row : rows) shape_width_ = std::max(shape_width_, row.shape.size());
  }
  void header() const {
    fmt::print("{:<9}  {:<{}}  {:>5}  {:>9}  {:>9}  {:>9}  {:>9}  {:<7}  {:>6}  {:>6}  {}{}\n", "op", "shape",
               shape_width_, "count", "fwd ms", "bwd ms", "fwd", "bwd", "unit", "fwd %", "bwd %",
               compare_ ? fmt::format("{:>9}  {:>9}  {:>5}  {:>5}  ", "ref fwd", "ref bwd", "x fwd", "x bwd") : "",
               "layers");
  }
  void line(const Row& r) const {
    const std::string layers =
        r.layers.size() == 1 ? r.layers[0] : fmt::format("{} +{}", r.layers[0], r.layers.size() - 1);
    const double scale = cpu_ && r.compute_bound ? 1e3 : 1;
    const char* unit = cpu_ && r.compute_bound ? "GFLOP/s" : r.unit();
    std::string reference;
    if (compare_ && r.reference_layer != nullptr) {
      const double ref_fwd = r.fwd_work / r.reference_fwd_seconds / 1e12 * scale,
                   ref_bwd = r.bwd_work / r.reference_bwd_seconds / 1e12 * scale;
      reference = fmt::format("{:>9.3g}  {:>9.3g}  {:>5.2f}  {:>5.2f}  ", ref_fwd, ref_bwd,
                              r.reference_fwd_seconds / r.fwd_seconds, r.reference_bwd_seconds / r.bwd_seconds);
    } else if (compare_) {
      reference = fmt::format("{:>9}  {:>9}  {:>5}  {:>5}  ", "-", "-", "-", "-");
    }
    fmt::print("{:<9}  {:<{}}  {:>5}  {:>9.4g}  {:>9.4g}  {:>9.3g}  {:>9.3g}  {:<7}  {:>6.1f}  {:>6.1f}  {}{}\n", r.op,
               r.shape, shape_width_, r.layers.size(), r.fwd_seconds * 1e3, r.bwd_seconds * 1e3, r.fwd_rate() * scale,
               r.bwd_rate() * scale, unit, r.percent_of_peak(r.fwd_rate()), r.percent_of_peak(r.bwd_rate()), reference,
               layers);
    std::fflush(stdout);
  }

 private:
  size_t shape_width_ = 5;
  bool cpu_ = false, compare_ = false;
};

// Milliseconds of all the layers of the network together (each row times its count), forward and backward.
std::pair<double, double> total_ms(const std::vector<Row>& rows) {
  double fwd = 0, bwd = 0;
  for (const Row& r : rows) {
    fwd += double(r.layers.size()) * r.fwd_seconds * 1e3;
    bwd += double(r.layers.size()) * r.bwd_seconds * 1e3;
  }
  return {fwd, bwd};
}

// The convolutions alone, count-weighted: {fast fwd, fast bwd, reference fwd, reference bwd} in ms.
std::array<double, 4> conv_totals_ms(const std::vector<Row>& rows) {
  std::array<double, 4> t{};
  for (const Row& r : rows) {
    if (r.reference_layer == nullptr) continue;
    const double n = double(r.layers.size()) * 1e3;
    t[0] += n * r.fwd_seconds, t[1] += n * r.bwd_seconds;
    t[2] += n * r.reference_fwd_seconds, t[3] += n * r.reference_bwd_seconds;
  }
  return t;
}

// "20 conv, 20 batchnorm, 1 linear"
std::string layer_counts(const std::vector<Row>& rows) {
  std::vector<std::pair<std::string, size_t>> counts;
  for (const Row& r : rows) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == r.op; });
    if (it == counts.end()) it = counts.insert(counts.end(), {r.op, 0});
    it->second += r.layers.size();
  }
  std::string text;
  for (const auto& [op, n] : counts) text += fmt::format("{}{} {}", text.empty() ? "" : ", ", n, op);
  return text;
}

std::string peaks_text(const DevicePeaks& p, Device device) {
  const std::string copy = fmt::format("copy of {} MiB {:.1f} GB/s (read+write)", p.copy_bytes >> 20, p.copy_gbs);
  if (device.is_cpu()) return fmt::format("OpenBLAS sgemm {}^3 {:.3f} TFLOP/s fp32; {}", p.gemm_n, p.fp32_tflops, copy);
  return fmt::format("cuBLAS {}^3 bf16 {:.0f}, tf32 {:.0f}, fp32 {:.1f} TFLOP/s; {}", p.gemm_n, p.bf16_tflops,
                     p.tf32_tflops, p.fp32_tflops, copy);
}

nlohmann::ordered_json dims_json(const Shape& s) {
  std::vector<int64_t> d;
  for (int i = 0; i < s.rank(); ++i) d.push_back(s[i]);
  return d;
}

// A peak the device has no mode for (the CPU's bf16 and tf32) is null rather than 0.
nlohmann::ordered_json measured(double value) {
  return value > 0 ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json row_json(const Row& r) {
  nlohmann::ordered_json j = {{"op", r.op},
                              {"shape", r.shape},
                              {"count", r.layers.size()},
                              {"layers", r.layers},
                              {"input", dims_json(r.input.shape())},
                              {"output", dims_json(r.out)},
                              {"needs_input_grad", r.needs_input_grad},
                              {"fwd_ms", r.fwd_seconds * 1e3},
                              {"bwd_ms", r.bwd_seconds * 1e3},
                              {"fwd_peak_pct", r.percent_of_peak(r.fwd_rate())},
                              {"bwd_peak_pct", r.percent_of_peak(r.bwd_rate())}};
  if (r.reference_layer != nullptr) {
    j["reference_fwd_ms"] = r.reference_fwd_seconds * 1e3;
    j["reference_bwd_ms"] = r.reference_bwd_seconds * 1e3;
    j["onednn"] = r.implementations;
  }
  const std::string work = r.compute_bound ? "flops" : "bytes", rate = r.compute_bound ? "tflops" : "gbs";
  j["fwd_" + work] = r.fwd_work;
  j["bwd_" + work] = r.bwd_work;
  j["fwd_" + rate] = r.fwd_rate();
  j["bwd_" + rate] = r.bwd_rate();
  return j;
}

void write_json(const std::string& path, const KernelOptions& o, Device device, const DevicePeaks& peaks, DType dtype,
                const std::vector<Row>& rows) {
  nlohmann::ordered_json j;
  j["command"] = command_line("aslnet bench kernels");
  j["date"] = utc_now();
  j["device"] = {{"id", device.str()}, {"name", device_name(device)}};
  if (device.is_cpu()) j["device"]["threads"] = Context::cpu_threads();
  j["config"] = {{"arch", o.arch},
                 {"stem", o.stem},
                 {"width", o.width},
                 {"batch", o.batch},
                 {"image_size", o.image_size},
                 {"precision", o.precision},
                 {"tf32", o.tf32},
                 {"cpu_kernels", device.is_cpu() ? kernels::cpu_kernels_name(kernels::cpu_kernels()) : "none"},
                 {"warmup", o.warmup},
                 {"iters", o.iters}};
  j["peaks"] = {{"gemm_n", peaks.gemm_n},
                {"bf16_tflops", measured(peaks.bf16_tflops)},
                {"tf32_tflops", measured(peaks.tf32_tflops)},
                {"fp32_tflops", measured(peaks.fp32_tflops)},
                {"copy_bytes", peaks.copy_bytes},
                {"copy_gbs", peaks.copy_gbs},
                {"compute_rows_compare_with", DevicePeaks::gemm_name(dtype, o.tf32)}};
  j["rows"] = nlohmann::ordered_json::array();
  for (const Row& r : rows) j["rows"].push_back(row_json(r));
  const auto [fwd, bwd] = total_ms(rows);
  j["totals"] = {{"fwd_ms", fwd}, {"bwd_ms", bwd}};
  std::ofstream out(path);
  ASLNET_CHECK(out.good()) << "--json " << path << ": cannot write this file";
  out << j.dump(2) << "\n";
  ASLNET_CHECK(out.good()) << "--json " << path << ": write failed";
}

// A bad --json path fails before the measurements, not after them.
void run_bench_kernels(KernelOptions o) {
  o.json = results_file(o.out, o.json, "kernels");
  const Device device = app::training_devices(o.device, "", 1, 1, 0).front();
  const DType dtype = app::training_dtype(o.precision, device);
  ASLNET_CHECK(!o.tf32 || device.is_cuda()) << "--tf32 is tensor-core math on the GPU (hint: --device cuda)";
  if (device.is_cpu()) Context::set_cpu_threads(o.threads);
  Context ctx(device);
  ctx.set_allow_tf32(o.tf32);
  fmt::print("{} ({} stem, width {}), batch {}, {}x{} px on {}\n", o.arch, o.stem, o.width, o.batch, o.image_size,
             o.image_size, app::describe_device(ctx, o.precision));
  std::fflush(stdout);
  // The peaks first, while none of the model's memory is taken.
  const DevicePeaks peaks = measure_peaks(device);
  fmt::print("peaks: {}\n", peaks_text(peaks, device));
  std::fflush(stdout);

  auto model = prepared_model(ctx, o, dtype);
  std::vector<Row> rows;
  collect_rows(model->net(), rows);
  // The fast CPU kernels against the reference: the same network again, set up on the reference.
  const bool compare = device.is_cpu() && kernels::cpu_kernels() == kernels::CpuKernels::Fast;
  std::unique_ptr<Model> reference_model;
  if (compare) {
    kernels::set_cpu_kernels(kernels::CpuKernels::Reference);
    reference_model = prepared_model(ctx, o, dtype);
    kernels::set_cpu_kernels(kernels::CpuKernels::Fast);
    std::vector<Row> reference_rows;
    collect_rows(reference_model->net(), reference_rows);
    ASLNET_CHECK(reference_rows.size() == rows.size()) << "the reference model has other layer shapes";
    for (size_t i = 0; i < rows.size(); ++i) {
      if (rows[i].op != "conv") continue;
      rows[i].reference_layer = reference_rows[i].layer;
      rows[i].reference_input = reference_rows[i].input;
    }
  }
  const Tensor pool = gradient_pool(rows, dtype, device);
  fmt::print("layers: {} in {} distinct shapes, each timed alone: {} warm-up + {} timed calls per pass\n",
             layer_counts(rows), rows.size(), o.warmup, o.iters);
  fmt::print(
      "% of peak: TFLOP/s against the {} matrix product above, GB/s against the copy (batch norm's bytes "
      "are a lower bound)\n\n",
      DevicePeaks::gemm_name(dtype, o.tf32));
  if (compare)
    fmt::print("CPU kernels: fast (oneDNN) in the main columns; ref = the reference (im2col + OpenBLAS), "
               "x = reference time / fast time\n\n");
  const Table table(rows, device.is_cpu(), compare);
  table.header();
  for (Row& row : rows) {
    row.peak = row.compute_bound ? peaks.gemm_tflops(dtype, o.tf32) : peaks.copy_gbs;
    time_row(ctx, row, pool, o.warmup, o.iters);
    table.line(row);
  }
  const auto [fwd, bwd] = total_ms(rows);
  fmt::print("\nall {} layers: {:.3f} ms forward, {:.3f} ms backward (each row's time x its count)\n",
             layer_counts(rows), fwd, bwd);
  if (compare) {
    const auto t = conv_totals_ms(rows);
    fmt::print("convolutions: fast {:.3f} + {:.3f} ms, reference {:.3f} + {:.3f} ms (forward + backward): {:.2f}x\n",
               t[0], t[1], t[2], t[3], (t[2] + t[3]) / (t[0] + t[1]));
  }
  write_json(o.json, o, device, peaks, dtype, rows);
  fmt::print("wrote {}\n", o.json);
}

}  // namespace

void register_bench_kernels(CLI::App& bench) {
  auto o = std::make_shared<KernelOptions>();
  auto* cmd = bench.add_subcommand(
      "kernels",
      "Time every convolution, batch-norm and linear shape of a ResNet, forward and backward, against "
      "the device's measured peaks");
  cmd->add_option("--arch", o->arch, "resnet18, resnet34 or resnet50")->check(CLI::IsMember(resnet_architectures()));
  cmd->add_option("--stem", o->stem, "imagenet (7x7/2 convolution + max pool) or small (3x3/1)")
      ->check(CLI::IsMember({"imagenet", "small"}));
  cmd->add_option("--width", o->width, "channel multiplier (1: torchvision's widths)")->check(app::width_check());
  cmd->add_option("--batch", o->batch, "images per batch")->check(app::in_range(1, 1 << 16));
  cmd->add_option("--image-size", o->image_size, "input side in pixels")->check(app::in_range(8, 1024));
  cmd->add_option("--precision", o->precision, "fp32, or bf16 (mixed precision, GPU only)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_flag("--tf32", o->tf32, "allow TF32 tensor-core math for fp32 convolutions and matrix products (GPU)");
  cmd->add_option("--device", o->device, "auto (cuda when there is a GPU), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--iters", o->iters, "timed calls per pass")->check(app::in_range(1, 100000));
  cmd->add_option("--warmup", o->warmup, "untimed calls per pass first")->check(app::in_range(0, 100000));
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(app::non_negative());
  app::add_cpu_kernels_option(*cmd);
  cmd->add_option("--out", o->out, "folder for bench-kernels.json");
  cmd->add_option("--json", o->json, "write the results to this file instead of OUT/bench-kernels.json");
  cmd->callback([o] { run_bench_kernels(*o); });
}

}  // namespace aslnet::bench
