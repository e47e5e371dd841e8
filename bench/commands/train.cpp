// aslnet bench train: training speed per GPU count. For each count it runs a real `aslnet train` (a
// child process, so every run starts from a fresh device and, in multi mode, under its own mpirun):
// --mode single drives the GPUs from one process (--devices 0,1,...; CPU: --replicas N), --mode multi
// starts one process per GPU with mpirun. It reports total and epoch time, images/s, validation
// accuracy and scaling efficiency, as JSON, a Markdown table and a PNG chart (time against GPU count,
// as the seed project drew it). Counts beyond the machine's GPUs (or CPU cores) are reported as not
// run, never estimated. --peer also runs bench/peers/torch_seed_experiment.py (torchvision, its
// DataParallel and ImageFolder) on the same data, counts and recipe in the same invocation.
//
// --preset seed is the seed project's experiment: resnet50 at 64 px, batch 32, Adam at 1e-3 (AdamW with
// weight decay 0), 5 epochs, no augmentation, from a random initialisation.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "app/cli_checks.h"
#include "app/device_options.h"
#include "bench/commands/bench.h"
#include "bench/scaling/scaling_model.h"
#include "engine/core/device.h"
#include "engine/core/error.h"
#include "engine/loss.h"
#include "engine/optimizer.h"
#include "kernels/cpu_kernels.h"
#include "models/resnet.h"
#include "report/line_chart_png.h"

namespace aslnet::bench {

namespace {

namespace fs = std::filesystem;

struct BenchTrainOptions {
  std::string data, out = "runs/bench-train", preset, device = "auto", mode = "single", precision = "fp32";
  std::string counts = "1,2,4,8";
  std::string arch = "resnet18", stem = "imagenet", optimizer = "adamw";
  double width = 1.0, lr = 1e-3, weight_decay = 0.0, val_fraction = 0.1;
  int image_size = 64, threads = 0;
  int64_t epochs = 5, batch = 32;
  uint64_t seed = 0;
  bool peer = false, augment = false;
  std::string peer_script, python = "/usr/bin/python3";
  bool no_model = false;  // no scaling model's prediction beside the measured points
  std::string model_counts = "1,2,4,8,16,32,64";
  ScalingFlags scaling;
};

// One measured run (aslnet or the peer) at one count.
struct RunResult {
  int count = 0;
  bool ran = false;
  std::string why_not;         // not run, or failed: why
  double total_seconds = 0.0;  // the whole child process, start-up and validation included
  double epoch_seconds = 0.0;  // mean over the epochs after the first (the first warms up), or the first
  double images_per_second = 0.0;
  double val_accuracy = -1.0;
  int64_t steps_per_epoch = 0;
};

std::vector<int> parse_counts(const std::string& text) {
  std::vector<int> counts;
  std::stringstream list(text);
  for (std::string item; std::getline(list, item, ',');) {
    ASLNET_CHECK(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos && std::stoi(item) > 0)
        << "--gpu-counts " << text << ": expected a comma-separated list of positive counts such as 1,2,4,8";
    counts.push_back(std::stoi(item));
  }
  ASLNET_CHECK(!counts.empty()) << "--gpu-counts is empty";
  return counts;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The folder of class folders in `path`: the folder itself, or, for a .tar archive, its extraction
// under `work`; single sub-folders are descended (asl200-sample.tar holds asl_alphabet_train/A/...).
std::string data_folder(const std::string& path, const fs::path& work) {
  ASLNET_CHECK(fs::exists(path)) << "data " << path << " does not exist";
  fs::path dir = path;
  if (fs::is_regular_file(dir)) {
    const fs::path into = work / "data";
    if (!fs::exists(into)) {
      fs::create_directories(into);
      const int status = std::system(("tar -xf " + quote(path) + " -C " + quote(into.string())).c_str());
      ASLNET_CHECK(status == 0) << "cannot extract " << path << " (tar exit " << status << ")";
    }
    dir = into;
  }
  for (int depth = 0; depth < 3; ++depth) {
    std::vector<fs::path> subdirs;
    bool has_a = false;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_directory()) continue;
      subdirs.push_back(e.path());
      const std::string name = e.path().filename().string();
      has_a = has_a || name == "A" || name == "a";
    }
    if (has_a || subdirs.size() != 1) break;
    dir = subdirs[0];
  }
  return dir.string();
}

// How many replicas this machine can run: its GPUs, or on the CPU its cores.
int available(const BenchTrainOptions& o) {
  return o.device == "cuda" ? gpu_count() : int(std::max(1u, std::thread::hardware_concurrency()));
}

// Reads what `aslnet train` logged: the epochs' seconds, the images per epoch, the last validation accuracy.
void read_train_log(const fs::path& log, int64_t batch, RunResult& r) {
  std::ifstream in(log);
  ASLNET_CHECK(in.good()) << "the run wrote no " << log.string();
  std::vector<double> epochs;
  int64_t steps = 0;
  for (std::string line; std::getline(in, line);) {
    const auto e = nlohmann::json::parse(line, nullptr, false);
    if (e.is_discarded() || !e.contains("event")) continue;
    if (e["event"] == "start") steps = e.value("steps_per_epoch", int64_t(0));
    if (e["event"] == "epoch") {
      epochs.push_back(e.value("seconds", 0.0));
      if (e.contains("val")) r.val_accuracy = e["val"].value("accuracy", -1.0);
    }
  }
  ASLNET_CHECK(!epochs.empty() && steps > 0) << log.string() << " records no finished epoch";
  r.steps_per_epoch = steps;
  double sum = 0.0;
  for (size_t i = epochs.size() > 1 ? 1 : 0; i < epochs.size(); ++i) sum += epochs[i];
  r.epoch_seconds = sum / double(epochs.size() > 1 ? epochs.size() - 1 : 1);
  r.images_per_second = double(steps * batch) / r.epoch_seconds;
}

// The last few lines of a log, for a failure's message.
std::string tail_of(const fs::path& log) {
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > 2 ? lines.size() - 2 : 0; i < lines.size(); ++i)
    out += (out.empty() ? "" : " / ") + lines[i];
  // It goes into a Markdown table cell too.
  for (char& c : out)
    if (c == '|') c = '/';
  return out;
}

double run_timed(const std::string& command) {
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(command.c_str());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return status == 0 ? seconds : -1.0;  // a failed run has no time
}

std::string self_path() {
  const std::string path = fs::read_symlink("/proc/self/exe").string();
  // Each count runs this very binary again: rebuilding it during a benchmark would run another one.
  ASLNET_CHECK(path.size() < 10 || path.substr(path.size() - 10) != " (deleted)")
      << "the aslnet binary was replaced while the benchmark ran (" << path << "): run it again";
  return path;
}

RunResult run_aslnet(const BenchTrainOptions& o, const std::string& data, const fs::path& out, int count) {
  RunResult r;
  r.count = count;
  const int have = available(o);
  if (count > have) {
    r.why_not = fmt::format("not run (this machine has {} {})", have, o.device == "cuda" ? "GPU(s)" : "cores");
    return r;
  }
  // Made afresh; --overwrite below because the run's output.txt is there before the run starts.
  const fs::path run_dir = out / fmt::format("aslnet-{}-{}", o.mode, count);
  fs::remove_all(run_dir);
  const int threads = o.threads > 0 ? o.threads : have;
  std::string args = fmt::format(
      " train {} --arch {} --stem {} --width {} --image-size {} --batch {} --epochs {} --optimizer {} --lr {} "
      "--weight-decay {} --schedule constant --warmup-epochs 0 --label-smoothing 0 --split random --val-fraction {} "
      "--seed {} --device {} --precision {} --checkpoint-every 0 --quiet --out {} --overwrite",
      quote(data), o.arch, o.stem, o.width, o.image_size, o.batch, o.epochs, o.optimizer, o.lr, o.weight_decay,
      o.val_fraction, o.seed, o.device, o.precision, quote(run_dir.string()));
  if (!o.augment) args += " --no-augment";
  std::string command;
  if (o.mode == "multi") {
    // One process per replica; mpirun refuses root without the flag and more ranks than cores without
    // --oversubscribe.
    const std::string root = ::geteuid() == 0 ? " --allow-run-as-root --oversubscribe" : "";
    command = fmt::format("mpirun{} -np {} {}{} --threads {}", root, count, quote(self_path()), args,
                          std::max(1, threads / count));
  } else {
    std::string devices;
    for (int i = 0; i < count; ++i) devices += (i ? "," : "") + std::to_string(i);
    command = quote(self_path()) + args +
              (o.device == "cuda" ? " --devices " + devices : " --replicas " + std::to_string(count)) + " --threads " +
              std::to_string(threads);
  }
  fs::create_directories(run_dir);
  const fs::path log = run_dir / "output.txt";
  fmt::print("  aslnet, {} {} {}: ", count, o.device == "cuda" ? "GPU(s)" : "replica(s)", o.mode);
  std::fflush(stdout);
  const double seconds = run_timed(command + " > " + quote(log.string()) + " 2>&1");
  if (seconds < 0) {
    r.why_not = "failed: " + tail_of(log);
    fmt::print("{}\n", r.why_not);
    return r;
  }
  r.ran = true;
  r.total_seconds = seconds;
  read_train_log(run_dir / "log.jsonl", o.batch, r);
  fmt::print("{:.1f} s in all, {:.1f} s an epoch, {:.0f} img/s, validation {:.1f}%\n", r.total_seconds, r.epoch_seconds,
             r.images_per_second, 100.0 * r.val_accuracy);
  return r;
}

RunResult run_peer(const BenchTrainOptions& o, const std::string& data, const fs::path& out, int count) {
  RunResult r;
  r.count = count;
  const int have = o.device == "cuda" ? gpu_count() : 1;  // torch's DataParallel is for GPUs
  if (count > have) {
    r.why_not = fmt::format("not run ({} {})", have,
                            o.device == "cuda" ? "GPU(s) here" : "CPU process: DataParallel needs GPUs");
    return r;
  }
  const fs::path json = out / fmt::format("torchvision-{}.json", count),
                 log = out / fmt::format("torchvision-{}.txt", count);
  // torchvision runs with the environment the user gave (the OpenMP policy aslnet set for itself removed).
  const std::string command = fmt::format(
      "{}{} {} --data {} --gpus {} --device {} --arch {} --image-size {} --batch {} --epochs {} --lr {} "
      "--weight-decay {} --val-fraction {} --seed {} --precision {} --threads {} --json {} > {} 2>&1",
      kernels::peer_environment_prefix(), quote(o.python), quote(o.peer_script), quote(data), count, o.device, o.arch, o.image_size, o.batch, o.epochs,
      o.lr, o.weight_decay, o.val_fraction, o.seed, o.precision, o.threads > 0 ? o.threads : available(o),
      quote(json.string()), quote(log.string()));
  fmt::print("  torchvision, {} {}: ", count, o.device == "cuda" ? "GPU(s)" : "process");
  std::fflush(stdout);
  const double seconds = run_timed(command);
  if (seconds < 0) {
    r.why_not = "failed: " + tail_of(log);
    fmt::print("{}\n", r.why_not);
    return r;
  }
  std::ifstream in(json);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  ASLNET_CHECK(!j.is_discarded()) << "the peer wrote no readable " << json.string();
  r.ran = true;
  r.total_seconds = seconds;
  r.epoch_seconds = j.value("epoch_seconds", 0.0);
  r.images_per_second = j.value("images_per_second", 0.0);
  r.val_accuracy = j.value("val_accuracy", -1.0);
  fmt::print("{:.1f} s in all, {:.1f} s an epoch, {:.0f} img/s, validation {:.1f}%\n", r.total_seconds, r.epoch_seconds,
             r.images_per_second, 100.0 * r.val_accuracy);
  return r;
}

// One training step's phases on one device at `batch` images, synthetic inputs: what the scaling model
// starts from. Each phase ends with a synchronisation so that it can be told apart.
struct StepPhases {
  double forward_backward = 0, backward = 0, optimizer = 0;
};

StepPhases measure_phases(const BenchTrainOptions& o, int64_t batch) {
  const Device device = o.device == "cuda" ? Device::cuda(0) : Device::cpu();
  const DType dtype = o.precision == "bf16" ? DType::BF16 : DType::F32;
  Context ctx(device, o.seed);
  auto model = make_initialised_model({o.arch, o.stem, o.width, 29, 3}, ctx.rng(), dtype, device);
  model->setup(ctx, batch, o.image_size, o.image_size);
  Optimizer optimizer(*model, {.kind = o.optimizer, .weight_decay = o.weight_decay});
  CrossEntropyLoss loss;
  Tensor x = Tensor::empty(Shape{batch, o.image_size, o.image_size, 3}, model->compute_dtype());
  Tensor y = Tensor::empty(Shape{batch}, DType::I32);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = float(ctx.rng().normal());
    if (x.dtype() == DType::BF16)
      x.data<bf16>()[i] = to_bf16(v);
    else
      x.data<float>()[i] = v;
  }
  for (int64_t i = 0; i < batch; ++i) y.data<int32_t>()[i] = int32_t(ctx.rng().below(29));
  const Tensor images = x.to(device), labels = y.to(device);
  auto now = [&] {
    if (device.is_cuda()) ctx.synchronize();
    return std::chrono::steady_clock::now();
  };
  auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  // The median of each phase over the timed steps: at small per-GPU batches a step is mostly launch
  // latency, and a mean let one slow step move a whole row of the prediction (on an H100, 4 GPUs'
  // 8-image step once came out at 12.8 ms and 8 GPUs' 4-image step at 22 ms).
  const int warmup = 3, steps = device.is_cuda() ? 31 : 3;
  std::vector<double> forward_backward, backward, optimizer_step;
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = now();
    loss.forward_backward(ctx, model->forward(ctx, images, true), labels);
    const auto t1 = now();
    model->backward(ctx, loss.dlogits());
    const auto t2 = now();
    optimizer.step(ctx, o.lr);
    const auto t3 = now();
    if (i < warmup) continue;
    forward_backward.push_back(seconds(t0, t2));
    backward.push_back(seconds(t1, t2));
    optimizer_step.push_back(seconds(t2, t3));
  }
  auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  return {median(forward_backward), median(backward), median(optimizer_step)};
}

// The model's predictions for the recipe: the global batch fixed (as the measured runs keep it), so n
// GPUs take batch / n images each; the per-GPU step is measured at that batch on this device. The
// predicted total time adds to the measured one-GPU run's fixed part (start-up, validation: whatever is
// not the training steps) the predicted steps.
nlohmann::json scaling_prediction(const BenchTrainOptions& o, const std::vector<RunResult>& ours,
                                  int64_t steps_per_epoch) {
  const RunResult* one = nullptr;
  for (const auto& r : ours)
    if (r.ran && r.count == 1) one = &r;
  nlohmann::json rows = nlohmann::json::array();
  std::string text;
  const std::vector<int64_t> buckets = gradient_bucket_bytes({o.arch, o.stem, o.width, 29, 3});
  double fixed = -1.0;
  for (int n : parse_counts(o.model_counts)) {
    if (o.batch % n != 0) continue;
    const int64_t per_gpu = o.batch / n;
    const StepPhases phases = measure_phases(o, per_gpu);
    ScalingInputs in;
    in.forward_backward_seconds = phases.forward_backward;
    in.backward_seconds = phases.backward;
    in.optimizer_seconds = phases.optimizer;
    in.images_per_gpu = per_gpu;
    in.bucket_bytes = buckets;
    in.link = link_model_from_flags(o.scaling);
    const ScalingPoint p = predict_scaling(in, {n})[0];
    const double train_seconds = double(o.epochs * steps_per_epoch) * p.step_seconds;
    if (n == 1 && one != nullptr) fixed = std::max(0.0, one->total_seconds - train_seconds);
    nlohmann::json row{{"gpus", n},
                       {"per_gpu_batch", per_gpu},
                       {"step_seconds", p.step_seconds},
                       {"images_per_second", double(o.batch) / p.step_seconds},
                       {"comm_exposed_seconds", p.comm_exposed_seconds},
                       {"comm_seconds", p.comm_seconds},
                       {"tier", p.tier}};
    if (fixed >= 0) row["predicted_total_seconds"] = fixed + train_seconds;
    rows.push_back(row);
    if (n == 1) text = format_scaling(in, predict_scaling(in, {1}));
  }
  const LinkModel link = link_model_from_flags(o.scaling);
  return {{"kind",
           "model (predicted, not measured): per-GPU steps measured at batch / n on this device; links "
           "as below"},
          {"intra_node",
           {{"busbw_gbs", link.intra_node.busbw_gbs},
            {"busbw_source", link.intra_node.busbw_source},
            {"latency_seconds", link.intra_node.latency_seconds},
            {"latency_source", link.intra_node.latency_source}}},
          {"inter_node",
           {{"busbw_gbs", link.inter_node.busbw_gbs},
            {"busbw_source", link.inter_node.busbw_source},
            {"latency_seconds", link.inter_node.latency_seconds},
            {"latency_source", link.inter_node.latency_source}}},
          {"gpus_per_node", link.gpus_per_node},
          {"rows", rows}};
}

nlohmann::json to_json(const std::vector<RunResult>& runs) {
  nlohmann::json rows = nlohmann::json::array();
  const RunResult* one = nullptr;
  for (const auto& r : runs)
    if (r.ran && (one == nullptr || r.count < one->count)) one = &r;
  for (const auto& r : runs) {
    nlohmann::json row{{"count", r.count}, {"ran", r.ran}};
    if (!r.ran) {
      row["why_not"] = r.why_not;
    } else {
      row["total_seconds"] = r.total_seconds;
      row["epoch_seconds"] = r.epoch_seconds;
      row["images_per_second"] = r.images_per_second;
      row["val_accuracy"] = r.val_accuracy;
      // Scaling efficiency against the smallest count that ran: images/s per replica, relative.
      if (one != nullptr)
        row["scaling_efficiency"] = (r.images_per_second / r.count) / (one->images_per_second / one->count);
    }
    rows.push_back(row);
  }
  return rows;
}

std::string markdown(const BenchTrainOptions& o, const nlohmann::json& report) {
  std::string md = fmt::format("# aslnet bench train ({})\n\n- command: `{}`\n- device: {}\n- date: {}\n\n",
                               report["recipe"].get<std::string>(), report["command"].get<std::string>(),
                               report["device"].get<std::string>(), report["date"].get<std::string>());
  md += fmt::format("| who | {} | total s | epoch s | images/s | scaling efficiency | validation accuracy |\n",
                    o.device == "cuda" ? "GPUs" : "replicas");
  md += "| --- | --- | --- | --- | --- | --- | --- |\n";
  for (const char* who : {"aslnet", "torchvision"}) {
    if (!report.contains(who)) continue;
    for (const auto& row : report[who]) {
      if (!row["ran"].get<bool>()) {
        md +=
            fmt::format("| {} | {} | {} | | | | |\n", who, row["count"].get<int>(), row["why_not"].get<std::string>());
        continue;
      }
      md += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.0f} | {} | {:.1f}% |\n", who, row["count"].get<int>(),
                        row["total_seconds"].get<double>(), row["epoch_seconds"].get<double>(),
                        row["images_per_second"].get<double>(),
                        row.contains("scaling_efficiency")
                            ? fmt::format("{:.0f}%", 100.0 * row["scaling_efficiency"].get<double>())
                            : std::string(""),
                        100.0 * row["val_accuracy"].get<double>());
    }
  }
  if (report.contains("model")) {
    const auto& m = report["model"];
    md += fmt::format(
        "\n**Scaling model** ({}). Within a node (up to {} GPUs): {:.0f} GB/s bus bandwidth ({}); "
        "across nodes: {:.0f} GB/s ({}).\n\n",
        m["kind"].get<std::string>(), m["gpus_per_node"].get<int>(), m["intra_node"]["busbw_gbs"].get<double>(),
        m["intra_node"]["busbw_source"].get<std::string>(), m["inter_node"]["busbw_gbs"].get<double>(),
        m["inter_node"]["busbw_source"].get<std::string>());
    md += "| GPUs | per-GPU batch | step ms | images/s | all-reduce exposed ms | predicted total s |\n";
    md += "| --- | --- | --- | --- | --- | --- |\n";
    for (const auto& row : m["rows"])
      md += fmt::format("| {} | {} | {:.2f} | {:.0f} | {:.2f} | {} |\n", row["gpus"].get<int>(),
                        row["per_gpu_batch"].get<int64_t>(), 1e3 * row["step_seconds"].get<double>(),
                        row["images_per_second"].get<double>(), 1e3 * row["comm_exposed_seconds"].get<double>(),
                        row.contains("predicted_total_seconds")
                            ? fmt::format("{:.1f}", row["predicted_total_seconds"].get<double>())
                            : std::string("(no 1-GPU run)"));
  }
  return md;
}

void write_chart(const BenchTrainOptions& o, const nlohmann::json& report, const std::vector<int>& counts,
                 const fs::path& path) {
  LineChart chart;
  chart.title = report["recipe"].get<std::string>() + ": total time";
  chart.x_label = o.device == "cuda" ? "GPUs" : "CPU replicas";
  chart.y_label = "seconds";
  chart.log2_x = true;
  for (int c : counts) chart.x_ticks.push_back(c);
  const Rgb colours[] = {{30, 90, 200}, {230, 120, 20}};
  int k = 0;
  for (const char* who : {"aslnet", "torchvision"}) {
    const Rgb colour = colours[k++];
    if (!report.contains(who)) continue;
    ChartSeries s{who == std::string("aslnet") ? "aslnet" : "torchvision DataParallel", {}, {}, colour, false};
    for (const auto& row : report[who])
      if (row["ran"].get<bool>()) {
        s.x.push_back(row["count"].get<int>());
        s.y.push_back(row["total_seconds"].get<double>());
      }
    if (!s.x.empty()) chart.series.push_back(s);
  }
  if (report.contains("model")) {
    ChartSeries s{"model (predicted)", {}, {}, Rgb{200, 40, 40}, true};
    for (const auto& row : report["model"]["rows"])
      if (row.contains("predicted_total_seconds")) {
        s.x.push_back(row["gpus"].get<int>());
        s.y.push_back(row["predicted_total_seconds"].get<double>());
        chart.x_ticks.push_back(row["gpus"].get<int>());
      }
    if (!s.x.empty()) chart.series.push_back(s);
  }
  std::sort(chart.x_ticks.begin(), chart.x_ticks.end());
  chart.x_ticks.erase(std::unique(chart.x_ticks.begin(), chart.x_ticks.end()), chart.x_ticks.end());
  write_line_chart_png(path.string(), chart, "the chart");
}

void apply_preset(BenchTrainOptions& o) {
  if (o.preset.empty()) return;
  ASLNET_CHECK(o.preset == "seed") << "--preset " << o.preset << ": the one preset is `seed`";
  o.arch = "resnet50";
  o.stem = "imagenet";
  o.width = 1.0;
  o.image_size = 64;
  o.batch = 32;
  o.optimizer = "adamw";  // with weight decay 0: Adam
  o.lr = 1e-3;
  o.weight_decay = 0.0;
  o.epochs = 5;
  o.augment = false;
}

// The options as a command line that repeats the run (after the preset is applied).
std::string command_of(const BenchTrainOptions& o) {
  return fmt::format(
      "aslnet bench train {}{} --device {} --mode {} --gpu-counts {} --arch {} --stem {} --width {} --image-size {} "
      "--batch {} --epochs {} --optimizer {} --lr {} --weight-decay {} --precision {} --val-fraction {} --seed {}{}{}",
      o.data, o.preset.empty() ? "" : " --preset " + o.preset, o.device, o.mode, o.counts, o.arch, o.stem, o.width,
      o.image_size, o.batch, o.epochs, o.optimizer, o.lr, o.weight_decay, o.precision, o.val_fraction, o.seed,
      o.augment ? " --augment" : "", o.peer ? " --peer" : "");
}

void run_bench_train(BenchTrainOptions o) {
  apply_preset(o);
  const std::string command_line = command_of(o);
  const std::vector<int> counts = parse_counts(o.counts);
  for (int c : counts)
    ASLNET_CHECK(o.batch % c == 0) << "--batch " << o.batch << " (the global batch) does not split over " << c
                                   << " replicas";
  const fs::path out = o.out;
  fs::create_directories(out);
  const std::string data = data_folder(o.data, out);
  if (o.peer && o.peer_script.empty()) {
    // Beside the binary in a build tree (build/aslnet -> bench/peers/ in the source tree is not known
    // here), so the default looks where scripts/gpu-bundle.sh and a build folder put it.
    const fs::path exe = fs::path(self_path()).parent_path();
    for (const fs::path& p :
         {exe / "bench/peers/torch_seed_experiment.py", exe / "../bench/peers/torch_seed_experiment.py"})
      if (fs::exists(p)) o.peer_script = p.string();
    ASLNET_CHECK(!o.peer_script.empty()) << "--peer: bench/peers/torch_seed_experiment.py not found beside "
                                         << exe.string() << " (give --peer-script)";
  }
  const std::string recipe =
      fmt::format("{} {}x{} px, batch {}, {} lr {}{}, {} epochs{}", o.arch, o.image_size, o.image_size, o.batch,
                  o.optimizer == "adamw" && o.weight_decay == 0 ? "Adam" : o.optimizer, o.lr,
                  o.weight_decay > 0 ? fmt::format(" wd {}", o.weight_decay) : "", o.epochs,
                  o.preset == "seed" ? " (the seed experiment)" : "");
  const std::string device_name = o.device == "cuda" && gpu_count() > 0 ? gpu_name(0) : "cpu";
  fmt::print("bench train: {} on {} ({} mode), data {}\n", recipe, device_name, o.mode, data);

  std::vector<RunResult> ours, theirs;
  for (int c : counts) {
    ours.push_back(run_aslnet(o, data, out, c));
    if (!ours.back().ran && ours.back().why_not.rfind("not run", 0) == 0)
      fmt::print("  aslnet, {}: {}\n", c, ours.back().why_not);
    if (o.peer) {
      theirs.push_back(run_peer(o, data, out, c));
      if (!theirs.back().ran && theirs.back().why_not.rfind("not run", 0) == 0)
        fmt::print("  torchvision, {}: {}\n", c, theirs.back().why_not);
    }
  }

  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  nlohmann::json report{{"recipe", recipe},       {"command", command_line}, {"device", device_name},
                        {"date", date},           {"mode", o.mode},          {"data", data},
                        {"aslnet", to_json(ours)}};
  if (o.peer) report["torchvision"] = to_json(theirs);
  if (!o.no_model) {
    int64_t steps = 0;
    for (const auto& r : ours) steps = std::max(steps, r.steps_per_epoch);
    fmt::print("scaling model: measuring the step at batch / n for n in {}\n", o.model_counts);
    if (steps > 0) report["model"] = scaling_prediction(o, ours, steps);
  }
  std::ofstream(out / "bench-train.json") << report.dump(2) << "\n";
  const std::string md = markdown(o, report);
  std::ofstream(out / "bench-train.md") << md;
  write_chart(o, report, counts, out / "bench-train.png");
  fmt::print("\n{}\nwrote {}, bench-train.md and bench-train.png\n", md, (out / "bench-train.json").string());
}

}  // namespace

void register_bench_train(CLI::App& bench) {
  auto o = std::make_shared<BenchTrainOptions>();
  auto* cmd = bench.add_subcommand("train", "Training time, images/s and scaling efficiency per GPU count");
  cmd->add_option("data", o->data, "training folder (class folders), or a .tar of one (extracted under --out)")
      ->required();
  cmd->add_option("--preset", o->preset,
                  "seed: the seed project's experiment (resnet50, 64 px, batch 32, Adam 1e-3, 5 epochs)");
  cmd->add_option("--device", o->device, "auto (cuda when there is a GPU), cuda, or cpu (counts are then CPU replicas)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--gpu-counts", o->counts, "replica counts to run, e.g. 1,2,4,8 (beyond the machine: not run)");
  cmd->add_option("--mode", o->mode, "single: one process drives them all; multi: one process each (mpirun)")
      ->check(CLI::IsMember({"single", "multi"}));
  cmd->add_option("--arch", o->arch, "the network each run trains (aslnet train --arch)")
      ->check(CLI::IsMember(resnet_architectures()));
  cmd->add_option("--stem", o->stem, "imagenet (7x7/2 convolution + max pool) or small (3x3/1)")
      ->check(CLI::IsMember({"imagenet", "small"}));
  cmd->add_option("--width", o->width, "channel multiplier (1: torchvision's widths)")->check(app::width_check());
  cmd->add_option("--image-size", o->image_size, "input side in pixels")->check(app::in_range(8, 1024));
  cmd->add_option("--batch", o->batch, "global batch, split over the replicas")->check(app::positive());
  cmd->add_option("--epochs", o->epochs, "epochs of each run")->check(app::positive());
  cmd->add_option("--optimizer", o->optimizer, "sgd or adamw, for both sides")->check(CLI::IsMember({"sgd", "adamw"}));
  cmd->add_option("--lr", o->lr, "learning rate (constant, no warm-up), for both sides")->check(app::positive());
  cmd->add_option("--weight-decay", o->weight_decay, "weight decay, for both sides")->check(app::non_negative());
  cmd->add_option("--precision", o->precision, "fp32, or bf16 (mixed precision, GPU only)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_option("--val-fraction", o->val_fraction, "random split held out for validation")
      ->check(app::in_range(0.0, 0.9));
  cmd->add_flag("--augment", o->augment, "train with aslnet's default augmentation (the seed had none)");
  cmd->add_option("--seed", o->seed, "seed of every run");
  cmd->add_option("--threads", o->threads, "CPU threads for each run (0: every core)")->check(app::non_negative());
  cmd->add_option("--out", o->out, "folder for the runs, bench-train.json, .md and .png");
  cmd->add_flag("--peer", o->peer, "also run torchvision (bench/peers/torch_seed_experiment.py) on the same data");
  cmd->add_option("--peer-script", o->peer_script, "path of torch_seed_experiment.py");
  cmd->add_option("--python", o->python, "the Python that has torch and torchvision");
  cmd->add_flag("--no-model", o->no_model, "skip the scaling model's prediction (docs/scaling-model.md)");
  cmd->add_option("--model-counts", o->model_counts, "GPU counts the scaling model predicts (dividing --batch)");
  add_scaling_flags(*cmd, o->scaling);
  cmd->callback([o] {
    o->device = app::resolve_device(o->device);
    run_bench_train(*o);
  });
}

}  // namespace aslnet::bench
