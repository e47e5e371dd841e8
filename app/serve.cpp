// aslnet serve --checkpoint C: the web page and the JSON API of docs/serve.md, on loopback unless
// --host says otherwise. Ctrl-C (SIGINT) or SIGTERM stops it cleanly: requests in flight are answered.
#include <fmt/core.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "app/cli_checks.h"
#include "app/device_options.h"
#include "app/commands.h"
#include "app/tta_option.h"
#include "serve/server.h"

namespace aslnet::app {

namespace {

volatile std::sig_atomic_t stop_signal = 0;

struct ServeCommand {
  serve::ServeOptions server;
  double max_body_mb = 16, max_megapixels = 16;
  bool no_batching = false;
};

void run_serve(ServeCommand c) {
  // SIGINT and SIGTERM only raise a flag (whichever thread takes them: a handler works in every thread,
  // where a blocked mask would have to be inherited by threads the libraries start); a watcher polls
  // the flag and stops the server. SIGPIPE from a client that hung up is ignored.
  struct sigaction on_stop {};
  on_stop.sa_handler = [](int signal_number) { stop_signal = signal_number; };
  sigemptyset(&on_stop.sa_mask);
  sigaction(SIGINT, &on_stop, nullptr);
  sigaction(SIGTERM, &on_stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  serve::ServeOptions& o = c.server;
  o.batching = !c.no_batching;
  o.max_body_bytes = int64_t(c.max_body_mb * 1024 * 1024);
  o.max_pixels = int64_t(c.max_megapixels * 1e6);

  serve::Server server(o);
  server.bind();
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1")
    fmt::print(stderr, "aslnet serve: listening on {}, not loopback: anyone who can reach this machine can use it\n",
               o.host);
  fmt::print("aslnet serve: {}\n", server.describe());
  std::fflush(stdout);

  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished && stop_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stop_signal != 0) {
      fmt::print(stderr, "aslnet serve: {}, stopping\n", stop_signal == SIGINT ? "interrupted" : "terminated");
      server.stop();
    }
  });
  server.run();
  finished = true;
  watcher.join();
}

}  // namespace

void register_serve(CLI::App& app) {
  auto c = std::make_shared<ServeCommand>();
  serve::ServeOptions& o = c->server;
  auto* cmd = app.add_subcommand("serve", "A web page and JSON API to read signs from photos and the webcam");
  cmd->add_option("--checkpoint", o.checkpoint, "a checkpoint written by aslnet train")->required();
  cmd->add_option("--host", o.host, "the address to listen on (127.0.0.1: this machine only; 0.0.0.0: all)");
  cmd->add_option("--port", o.port, "the port (0: any free port, printed when ready)")->check(in_range(0, 65535));
  cmd->add_option("--device", o.device, "auto (the first GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_flag("--tf32", o.allow_tf32, "GPU: TF32 tensor-core math (faster; probabilities agree to about 1e-3)");
  cmd->add_option("--threads", o.cpu_threads, "CPU threads for the model (0: all cores)")->check(non_negative());
  add_cpu_kernels_option(*cmd);
  cmd->add_option("--http-threads", o.http_threads, "threads that answer connections (and decode images)")
      ->check(in_range(1, 1024));
  cmd->add_option("--max-connections", o.max_connections,
                  "connections answered at once (more threads start while idle or slow clients hold some)")
      ->check(in_range(1, 65536));
  cmd->add_option("--max-batch", o.max_batch, "the most images the model runs at once")->check(in_range(1, 1024));
  cmd->add_option("--batch-window-ms", o.batch_window_ms, "how long a waiting image waits for others to join it")
      ->check(in_range(0.0, 1000.0));
  cmd->add_flag("--no-batching", c->no_batching, "run every request on its own");
  add_tta_option(*cmd, o.tta);
  cmd->add_option("--max-body-mb", c->max_body_mb, "the largest request body, in MiB")->check(in_range(0.01, 1024.0));
  cmd->add_option("--max-megapixels", c->max_megapixels, "the largest image, in millions of pixels")
      ->check(in_range(0.001, 1000.0));
  cmd->add_option("--max-frames", o.max_frames, "the most frames in one /translate request")->check(in_range(1, 4096));
  cmd->add_option("--min-confidence", o.decoder.min_confidence,
                  "live text: a frame counts only if its top letter has at least this probability")
      ->check(in_range(0.0, 1.0));
  cmd->add_option("--hold-frames", o.decoder.hold_frames, "live text: frames in a row a sign must be held to count")
      ->check(in_range(1, 1000));
  cmd->add_option("--max-sessions", o.max_sessions, "live sessions kept at once")->check(in_range(1, 100000));
  cmd->add_option("--session-idle-s", o.session_idle_s, "a live session is forgotten after this long unused")
      ->check(in_range(1.0, 1e7));
  cmd->add_option("--voice", o.voice, "espeak-ng voice for /speech (en, en-us, de, fr, ...)");
  cmd->add_option("--rate", o.rate, "speech rate in words per minute")->check(in_range(80, 450));
  cmd->callback([c] { run_serve(*c); });
}

}  // namespace aslnet::app
