// libFuzzer target: aslnet serve's request handling, what any client can send to its port: the request
// line, headers, query parameters, bodies raw, chunked or as multipart forms, the routes and their
// limits, and the handlers behind them (decoding photos, classifying them with a tiny untrained model,
// sessions, speech). Each input is one connection's bytes (Server::answer); every input must be answered,
// never a crash, a leak or undefined behaviour. scripts/fuzz.sh builds it against the project's
// libraries (only the server's own code is instrumented for coverage) and runs it.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "serve/server.h"
#include "tests/serve/tiny_checkpoint.h"

namespace {

aslnet::serve::Server& server() {
  static const std::unique_ptr<aslnet::serve::Server> instance = [] {
    const std::string checkpoint = "/tmp/aslnet-fuzz-http-" + std::to_string(getpid()) + ".safetensors";
    aslnet::test::write_tiny_checkpoint(checkpoint);
    aslnet::serve::ServeOptions options;
    options.checkpoint = checkpoint;
    options.device = "cpu";
    options.cpu_threads = 1;
    options.batching = false;
    // Small limits keep each run fast; the checks that enforce them are what is fuzzed.
    options.max_body_bytes = 1 << 16;
    options.max_pixels = 1 << 16;
    options.max_frames = 4;
    options.max_sessions = 8;
    auto made = std::make_unique<aslnet::serve::Server>(options);
    unlink(checkpoint.c_str());
    return made;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)server().answer(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
