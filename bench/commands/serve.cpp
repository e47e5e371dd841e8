// aslnet bench serve: what `aslnet serve` answers under load, with and without batching across
// requests. It starts the server in this process (serve/server.h, port 0 on 127.0.0.1, run() on a
// thread), twice: once batching (ServeOptions::batching) and once with --no-batching, each a fresh
// Server with the same checkpoint, device and threads. For each it fires a fixed number of requests
// (--requests) from --clients concurrent client threads (cpp-httplib clients, one keep-alive connection
// each, opened before the clock starts), every request a POST /predict of one real image (or, with
// --endpoint translate, a POST /translate of --frames images as multipart `frame` fields), after
// --warmup untimed ones. It reports per
// mode: requests, failures, wall time, throughput (requests/s), client-side latency p50/p90/p99/max, the
// mean `batch` the server reported, the server's mean timings; and batching against not.
//
// The load is bounded and closed-loop (each client sends its next request when the last is answered),
// so throughput is what the server sustains with that many requests in flight, and latency includes
// the queueing behind them. Clients and server share the machine's cores, so on a small machine the
// clients' own (small) work is part of what is measured.
//
// Any failed request (a transport error, a status other than 200, an answer that is not the API's
// JSON) fails the run: the results are still written, then it stops with one line naming the first.
//
// Images: --images DIR (class folders or plain files; .jpg, .jpeg, .png, up to --max-images of them,
// evenly spaced in name order), or, without it, synthetic hands (data/synth.h) drawn in memory at
// --synth-size px, so the benchmark runs anywhere.
#include <fmt/core.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "app/cli_checks.h"
#include "app/device_options.h"
#include "bench/commands/bench.h"
#include "data/classes.h"
#include "data/jpeg.h"
#include "data/synth.h"
#include "engine/core/context.h"
#include "engine/core/device.h"
#include "engine/core/error.h"
#include "serve/image_input.h"
#include "serve/server.h"

namespace aslnet::bench {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct ServeBenchOptions {
  std::string checkpoint, images, device = "auto", out = "runs/bench-serve", endpoint = "predict";
  int requests = 400, clients = 8, warmup = 16, frames = 8;
  int max_batch = 32, threads = 0, http_threads = 0;
  double batch_window_ms = 2.0;
  int max_images = 256, synth_size = 200;
};

// One mode's measurements.
struct ModeResult {
  std::string mode;  // "batching" or "no batching"
  bool batching = false;
  int requests = 0, failures = 0;
  std::string first_failure;
  double wall_s = 0, throughput = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  std::optional<double> mean_batch;         // the mean `batch` of the answers (absent when none say it)
  std::map<std::string, double> server_ms;  // mean of each timing_ms field over the answers
  nlohmann::ordered_json server;            // GET /healthz as the server answered it
  std::string described;                    // Server::describe()
};

// What one request got back.
struct Outcome {
  double ms = 0;
  bool ok = false;
  std::string failure;
  std::optional<double> batch;
  std::map<std::string, double> timing;
};

// The images to send, each a whole file's bytes.
std::vector<std::string> load_images(const ServeBenchOptions& o) {
  std::vector<std::string> payloads;
  if (o.images.empty()) {
    // Two of each class, encoded as the camera's JPEGs would be.
    const int classes = int(asl_classes().size());
    for (int i = 0; i < 2 * classes; ++i) {
      Rng rng = synthetic_image_rng(/*seed=*/0, i % classes, i / classes);
      const std::vector<uint8_t> jpeg = encode_jpeg(render_synthetic_hand(i % classes, o.synth_size, rng), 90);
      payloads.emplace_back(jpeg.begin(), jpeg.end());
    }
    return payloads;
  }
  ASLNET_CHECK(fs::is_directory(o.images)) << "--images " << o.images << " is not a folder";
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(o.images)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) files.push_back(e.path().string());
  }
  ASLNET_CHECK(!files.empty()) << "--images " << o.images
                               << " holds no .jpg, .jpeg or .png files (hint: leave --images out for synthetic hands)";
  std::sort(files.begin(), files.end());
  const size_t n = std::min(files.size(), size_t(o.max_images));
  for (size_t i = 0; i < n; ++i) {
    const std::vector<uint8_t> bytes = read_file_bytes(files[i * files.size() / n]);
    payloads.emplace_back(bytes.begin(), bytes.end());
  }
  return payloads;
}

// The value at quantile q (0..1] of sorted values, nearest rank.
double quantile(const std::vector<double>& sorted, double q) {
  const size_t rank = size_t(std::ceil(q * double(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

// One line, short enough for a table cell and an error message.
std::string one_line(std::string text, size_t limit = 200) {
  for (char& c : text)
    if (c == '\n' || c == '\r' || c == '|') c = ' ';
  return text.size() > limit ? text.substr(0, limit) + "..." : text;
}

std::string content_type(const std::string& image) {
  const auto format = serve::sniff_image_format(reinterpret_cast<const uint8_t*>(image.data()), image.size());
  return format == serve::ImageFormat::Png ? "image/png" : "image/jpeg";
}

// Sends request `index` (its images chosen round-robin from the payloads) and reads the answer.
Outcome send(httplib::Client& client, const ServeBenchOptions& o, const std::vector<std::string>& payloads, int index) {
  Outcome out;
  const auto start = Clock::now();
  const auto post = [&]() -> httplib::Result {
    if (o.endpoint == "predict") {
      const std::string& image = payloads[size_t(index) % payloads.size()];
      return client.Post("/predict", image, content_type(image));
    }
    httplib::MultipartFormDataItems items;
    for (int f = 0; f < o.frames; ++f) {
      const size_t k = (size_t(index) * size_t(o.frames) + size_t(f)) % payloads.size();
      items.push_back({"frame", payloads[k], fmt::format("frame{}", f + 1), content_type(payloads[k])});
    }
    return client.Post("/translate", items);
  };
  const httplib::Result res = post();
  out.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (!res) {
    out.failure = "transport error: " + httplib::to_string(res.error());
    return out;
  }
  if (res->status != 200) {
    out.failure = fmt::format("status {}: {}", res->status, one_line(res->body));
    return out;
  }
  const auto answer = nlohmann::json::parse(res->body, nullptr, false);
  const char* must = o.endpoint == "translate" ? "text" : "top";
  if (answer.is_discarded() || !answer.is_object() || !answer.contains(must)) {
    out.failure = fmt::format("200 without \"{}\": {}", must, one_line(res->body));
    return out;
  }
  if (answer.contains("batch") && answer["batch"].is_number()) out.batch = answer["batch"].get<double>();
  if (answer.contains("timing_ms") && answer["timing_ms"].is_object())
    for (const auto& [key, value] : answer["timing_ms"].items())
      if (value.is_number()) out.timing[key] = value.get<double>();
  out.ok = true;
  return out;
}

// The clients, each with its connection open (a GET /healthz), made one after the other: connections
// opened all at once can overflow the server's listen backlog (cpp-httplib's is 5), and a dropped SYN
// costs a second, which is not what this measures.
std::vector<std::unique_ptr<httplib::Client>> connect_clients(int count, int port) {
  std::vector<std::unique_ptr<httplib::Client>> clients;
  for (int c = 0; c < count; ++c) {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
    client->set_keep_alive(true);
    // As browsers and curl do: otherwise Nagle's algorithm holds the request's body (a second write
    // after the headers) until the server acknowledges the headers, which it may delay by 40 ms.
    client->set_tcp_nodelay(true);
    client->set_connection_timeout(10);
    client->set_read_timeout(300);  // a CPU batch of large images under load takes seconds, not minutes
    client->set_write_timeout(60);
    const auto res = client->Get("/healthz");
    ASLNET_CHECK(res && res->status == 200)
        << "client " << c + 1 << " cannot reach the server on port " << port << " ("
        << (res ? fmt::format("status {}", res->status) : httplib::to_string(res.error())) << ")";
    clients.push_back(std::move(client));
  }
  return clients;
}

// `count` requests, numbered from `first_index`, from the clients at once, one thread each; a thread
// takes the next number when its last request is answered (closed loop), until all are taken. Returns
// the outcomes in request order.
std::vector<Outcome> fire(const ServeBenchOptions& o, std::vector<std::unique_ptr<httplib::Client>>& clients,
                          const std::vector<std::string>& payloads, int count, int first_index) {
  std::vector<Outcome> outcomes(size_t(std::max(count, 0)));
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (auto& client : clients)
    threads.emplace_back([&, c = client.get()] {
      for (int i = next++; i < count; i = next++) outcomes[size_t(i)] = send(*c, o, payloads, first_index + i);
    });
  for (auto& t : threads) t.join();
  return outcomes;
}

// GET /healthz until it answers (run() may not be accepting yet), at most `seconds`.
nlohmann::ordered_json wait_healthy(int port, double seconds) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  std::string last = "no answer";
  while (Clock::now() < deadline) {
    if (auto res = client.Get("/healthz")) {
      if (res->status == 200) {
        auto health = nlohmann::ordered_json::parse(res->body, nullptr, false);
        ASLNET_CHECK(!health.is_discarded()) << "GET /healthz answered no JSON: " << one_line(res->body);
        return health;
      }
      last = fmt::format("status {}: {}", res->status, one_line(res->body));
    } else {
      last = httplib::to_string(res.error());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASLNET_CHECK(false) << "the server on port " << port << " did not answer GET /healthz within " << seconds << " s ("
                      << last << ")";
  return {};
}

// One server, run on a thread for as long as this lives; stopped and joined however the scope ends.
class RunningServer {
 public:
  explicit RunningServer(const serve::ServeOptions& options) : server_(options) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~RunningServer() {
    server_.stop();
    thread_.join();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
  int port() const { return port_; }
  std::string describe() const { return server_.describe(); }

 private:
  serve::Server server_;
  int port_ = 0;
  std::thread thread_;
};

ModeResult run_mode(const ServeBenchOptions& o, const std::vector<std::string>& payloads, bool batching) {
  serve::ServeOptions so;
  so.checkpoint = o.checkpoint;
  so.host = "127.0.0.1";
  so.port = 0;
  so.device = o.device;
  so.cpu_threads = o.threads;  // the Server sets them for the process
  so.batching = batching;
  so.max_batch = o.max_batch;
  so.batch_window_ms = o.batch_window_ms;
  // One worker per keep-alive connection: cpp-httplib holds a worker for as long as a connection is open.
  so.http_threads = o.http_threads > 0 ? o.http_threads : std::max(8, o.clients);
  so.max_frames = std::max(so.max_frames, o.frames);

  ModeResult r;
  r.batching = batching;
  r.mode = batching ? "batching" : "no batching";
  r.requests = o.requests;
  fmt::print("{}: starting the server\n", r.mode);
  std::fflush(stdout);
  RunningServer server(so);
  r.described = server.describe();
  r.server = wait_healthy(server.port(), 120);
  fmt::print("{}: {}\n", r.mode, r.described);
  std::fflush(stdout);

  auto clients = connect_clients(o.clients, server.port());
  for (const Outcome& w : fire(o, clients, payloads, o.warmup, 0))
    ASLNET_CHECK(w.ok) << r.mode << ": a warm-up request failed: " << w.failure;

  const auto start = Clock::now();
  const std::vector<Outcome> outcomes = fire(o, clients, payloads, o.requests, o.warmup);
  r.wall_s = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> ms;
  double batch_sum = 0;
  int batch_count = 0;
  std::map<std::string, int> timing_count;
  for (const Outcome& out : outcomes) {
    ms.push_back(out.ms);
    if (!out.ok) {
      if (r.failures++ == 0) r.first_failure = out.failure;
      continue;
    }
    if (out.batch) batch_sum += *out.batch, ++batch_count;
    for (const auto& [key, value] : out.timing) r.server_ms[key] += value, ++timing_count[key];
  }
  for (auto& [key, value] : r.server_ms) value /= timing_count[key];
  if (batch_count > 0) r.mean_batch = batch_sum / batch_count;
  std::sort(ms.begin(), ms.end());
  r.throughput = double(o.requests) / r.wall_s;
  r.p50_ms = quantile(ms, 0.50);
  r.p90_ms = quantile(ms, 0.90);
  r.p99_ms = quantile(ms, 0.99);
  r.max_ms = ms.back();
  double sum = 0;
  for (double v : ms) sum += v;
  r.mean_ms = sum / double(ms.size());
  return r;
}

std::string batch_text(const ModeResult& r) { return r.mean_batch ? fmt::format("{:.2f}", *r.mean_batch) : "-"; }

// The table, as Markdown (printed too: it reads as well in a terminal).
std::string table(const std::vector<ModeResult>& modes) {
  std::string md =
      "| mode | requests | failures | wall s | requests/s | p50 ms | p90 ms | p99 ms | max ms | mean batch |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const ModeResult& r : modes)
    md +=
        fmt::format("| {} | {} | {} | {:.2f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {} |\n", r.mode, r.requests,
                    r.failures, r.wall_s, r.throughput, r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms, batch_text(r));
  return md;
}

// Batching against not, as factors: the text and the JSON both read them from here.
struct Ratios {
  double throughput, p50, p99;
};

Ratios batching_ratios(const ModeResult& with, const ModeResult& without) {
  return {with.throughput / without.throughput, with.p50_ms / without.p50_ms, with.p99_ms / without.p99_ms};
}

std::string ratio_text(const Ratios& r) {
  return fmt::format("batching against not: throughput x{:.2f}, p50 x{:.2f}, p99 x{:.2f}", r.throughput, r.p50, r.p99);
}

nlohmann::ordered_json mode_json(const ModeResult& r) {
  nlohmann::ordered_json j{
      {"mode", r.mode},
      {"batching", r.batching},
      {"server", r.described},
      {"requests", r.requests},
      {"failures", r.failures},
      {"wall_s", r.wall_s},
      {"throughput_rps", r.throughput},
      {"latency_ms", {{"p50", r.p50_ms}, {"p90", r.p90_ms}, {"p99", r.p99_ms}, {"max", r.max_ms}, {"mean", r.mean_ms}}},
      {"mean_batch", r.mean_batch ? nlohmann::ordered_json(*r.mean_batch) : nullptr}};
  j["server_timing_ms"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : r.server_ms) j["server_timing_ms"][key] = value;
  if (!r.first_failure.empty()) j["first_failure"] = r.first_failure;
  return j;
}

void run_bench_serve(const ServeBenchOptions& o) {
  // As aslnet serve does: a client that hangs up must not kill the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  const fs::path out = o.out;
  fs::create_directories(out);
  const std::vector<std::string> payloads = load_images(o);
  size_t bytes = 0;
  for (const auto& p : payloads) bytes += p.size();
  const std::string source =
      o.images.empty() ? fmt::format("{} synthetic hands of {} px (data/synth.h)", payloads.size(), o.synth_size)
                       : fmt::format("{} images from {}", payloads.size(), o.images);
  const std::string load = fmt::format(
      "{} requests (after {} warm-up) from {} keep-alive clients, each a POST /{} of {}", o.requests, o.warmup,
      o.clients, o.endpoint, o.endpoint == "translate" ? fmt::format("{} frames (multipart)", o.frames) : "one image");
  fmt::print("bench serve: {}; {} (mean {:.1f} KB)\n", load, source, double(bytes) / double(payloads.size()) / 1e3);
  std::fflush(stdout);

  std::vector<ModeResult> modes;
  for (bool batching : {true, false}) {
    modes.push_back(run_mode(o, payloads, batching));
    const ModeResult& r = modes.back();
    fmt::print("{}: {:.1f} requests/s, p50 {:.1f} ms, p99 {:.1f} ms, mean batch {}, {} failed\n", r.mode, r.throughput,
               r.p50_ms, r.p99_ms, batch_text(r), r.failures);
    std::fflush(stdout);
  }
  const ModeResult &with = modes[0], &without = modes[1];
  const Ratios ratios = batching_ratios(with, without);
  const std::string results_table = table(modes), ratios_line = ratio_text(ratios);

  const std::string command = command_line("aslnet bench serve");
  const std::string date = utc_now();
  const std::string served_on = with.server.value("device", std::string(o.device));
  const std::string device = served_on.rfind("cuda", 0) == 0
                                 ? fmt::format("{} ({})", gpu_name(0), served_on)
                                 : fmt::format("cpu ({} model threads)", Context::cpu_threads());
  const std::string cpu = fmt::format("{} cores", std::thread::hardware_concurrency());
  nlohmann::ordered_json doc{
      {"benchmark", "aslnet serve under a bounded closed-loop load on loopback, with and without batching"},
      {"command", command},
      {"date", date},
      {"device", device},
      {"machine", cpu},
      {"config",
       {{"checkpoint", o.checkpoint},
        {"arch", with.server.value("arch", std::string())},
        {"image_size", with.server.value("image_size", 0)},
        {"endpoint", o.endpoint},
        {"frames_per_request", o.endpoint == "translate" ? o.frames : 1},
        {"requests", o.requests},
        {"warmup", o.warmup},
        {"clients", o.clients},
        {"max_batch", o.max_batch},
        {"batch_window_ms", o.batch_window_ms},
        {"threads", o.threads},
        {"images", source},
        {"mean_image_bytes", double(bytes) / double(payloads.size())}}},
      {"modes", nlohmann::ordered_json::array({mode_json(with), mode_json(without)})},
      {"batching_vs_not", {{"throughput", ratios.throughput}, {"p50", ratios.p50}, {"p99", ratios.p99}}}};
  const fs::path json_path = out / "bench-serve.json", md_path = out / "bench-serve.md";
  std::ofstream(json_path) << doc.dump(2) << "\n";

  const std::string md = fmt::format(
      "# aslnet bench serve\n\n- command: `{}`\n- device: {}, machine of {}\n- date: {}\n- load: {}; {}\n\n{}\n{}.\n",
      command, device, cpu, date, load, source, results_table, ratios_line);
  std::ofstream(md_path) << md;
  ASLNET_CHECK(fs::exists(json_path) && fs::exists(md_path)) << "--out " << o.out << ": cannot write the results";
  fmt::print("\n{}\n{}\n\nwrote {} and {}\n", results_table, ratios_line, json_path.string(), md_path.string());

  for (const ModeResult& r : modes)
    ASLNET_CHECK(r.failures == 0) << r.failures << " of " << r.requests << " requests failed with " << r.mode
                                  << " (first: " << r.first_failure << "); see " << json_path.string();
}

}  // namespace

void register_bench_serve(CLI::App& bench) {
  auto o = std::make_shared<ServeBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "serve", "aslnet serve under load on loopback: throughput and p50/p99 latency, with and without batching");
  cmd->add_option("--checkpoint", o->checkpoint, "a checkpoint written by aslnet train")->required();
  cmd->add_option("--images", o->images,
                  "folder of images to send (class folders or files; .jpg, .jpeg, .png); default: synthetic hands");
  cmd->add_option("--max-images", o->max_images, "at most this many images of --images, evenly spaced")
      ->check(app::positive());
  cmd->add_option("--synth-size", o->synth_size, "side of the synthetic images, px")->check(app::in_range(8, 4096));
  cmd->add_option("--requests", o->requests, "timed requests in each mode")->check(app::positive());
  cmd->add_option("--clients", o->clients, "concurrent clients (threads, one keep-alive connection each)")
      ->check(app::in_range(1, 1024));
  cmd->add_option("--warmup", o->warmup, "untimed requests first, in each mode")->check(app::non_negative());
  cmd->add_option("--endpoint", o->endpoint, "predict (one image a request) or translate (--frames a request)")
      ->check(CLI::IsMember({"predict", "translate"}));
  cmd->add_option("--frames", o->frames, "frames of each /translate request")->check(app::in_range(1, 1024));
  cmd->add_option("--device", o->device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--threads", o->threads, "CPU threads of the model (0: every core)")->check(app::non_negative());
  app::add_cpu_kernels_option(*cmd);
  cmd->add_option("--http-threads", o->http_threads, "the server's HTTP workers (0: --clients, at least 8)")
      ->check(app::non_negative());
  cmd->add_option("--max-batch", o->max_batch, "largest batch the batching server runs")->check(app::in_range(1, 1024));
  cmd->add_option("--batch-window-ms", o->batch_window_ms, "how long the batching server waits for more images")
      ->check(app::non_negative());
  cmd->add_option("--out", o->out, "folder for bench-serve.json and bench-serve.md");
  cmd->callback([o] { run_bench_serve(*o); });
}

}  // namespace aslnet::bench
