#include "engine/core/error.h"

#include <cstdio>
#include <cstring>

namespace aslnet {

namespace {
// Paths are printed relative to the source tree: "engine/core/x.cpp", not the build machine's path.
const char* short_path(const char* file) {
  for (const char* root : {"/engine/", "/kernels/", "/models/", "/data/", "/app/", "/tests/", "/bench/", "/run/",
                           "/serve/", "/translate/", "/report/"}) {
    if (const char* at = std::strstr(file, root)) return at + 1;
  }
  return file;
}
}  // namespace

namespace {
// "[failed condition] (file.cpp:line)": where a check failed, kept beside the message.
std::string place(const char* file, int line, const char* what) {
  std::ostringstream out;
  if (what != nullptr && *what != '\0') out << "[" << what << "] ";
  out << "(" << short_path(file) << ":" << line << ")";
  return out.str();
}
}  // namespace

void throw_error(const char* file, int line, const char* what, const std::string& message) {
  throw Error(message, place(file, line, what));
}

void throw_out_of_memory(const char* file, int line, const std::string& message) {
  throw OutOfMemory(message, place(file, line, nullptr));
}

void throw_out_of_device_memory(const char* file, int line, const std::string& message) {
  throw OutOfDeviceMemory(message, place(file, line, nullptr));
}

void log_error(const char* file, int line, const std::string& message) {
  std::fprintf(stderr, "aslnet: error: %s (%s:%d)\n", message.c_str(), short_path(file), line);
}

}  // namespace aslnet
