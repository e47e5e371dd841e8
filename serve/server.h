// aslnet serve: the HTTP server (cpp-httplib) in front of a BatchedClassifier (serve/batcher.h). It
// answers the page and the JSON API described in docs/serve.md; every error is a 4xx with a one-line
// JSON body, and the server goes on answering.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "translate/sign_decoder.h"

namespace aslnet::serve {

struct ServeOptions {
  std::string checkpoint;
  std::string host = "127.0.0.1";
  int port = 8080;              // 0: any free port (Server::bind returns it)
  std::string device = "auto";  // auto, cpu or cuda
  int cpu_threads = 0;          // the CPU threads of the process (Context::set_cpu_threads); 0: all cores
  bool allow_tf32 = false;      // GPU: TF32 tensor-core math (faster; probabilities to about 1e-3)
  // Batching across requests.
  bool batching = true;
  int max_batch = 32;
  double batch_window_ms = 2.0;
  // Test-time augmentation (data/tta.h): none, flip or crops; each image's views are classified (and
  // batched) as images of their own, their probabilities averaged.
  std::string tta = "none";
  // Limits.
  int64_t max_body_bytes = 16ll << 20;
  int64_t max_pixels = 16'000'000;
  int max_frames = 64;
  int http_threads = 8;
  // Connections answered at once: threads beyond http_threads start when every one holds a connection
  // (serve/connection_pool.h), so idle or slow clients cannot make the server deaf.
  int max_connections = 256;
  // /translate sessions.
  SignDecoderOptions decoder;
  int max_sessions = 256;
  double session_idle_s = 600;
  // /speech.
  std::string voice = "en";
  int rate = 160;
};

class Server {
 public:
  // Loads the checkpoint and sets the model up for every batch size (this takes a while on a GPU).
  explicit Server(const ServeOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and returns the port (the chosen one when port is 0); an Error naming the address
  // when it cannot.
  int bind();
  // Answers requests until stop() (from any thread or a signal handler's watcher).
  void run();
  void stop();

  // One line: what is served where (printed by aslnet serve when ready).
  std::string describe() const;

  // Answers one request given as the bytes a connection would carry, and returns the bytes of the
  // response: the whole request handling (parsing, routing, limits, handlers) without a socket, for
  // tests and for fuzzing it (tests/fuzz/http.cpp).
  std::string answer(const std::string& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aslnet::serve
