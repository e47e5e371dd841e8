// Error handling for the whole engine: one exception type, and check macros that say where a call
// failed, what the call was, and what the library said. Destructors never throw: they use
// ASLNET_LOG_ERROR instead (see buffer.cpp).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace aslnet {

// Every failure the engine reports is an Error: its what() is one line that a user can act on. Errors of
// the check macros keep their place apart: message() is the line for users, what() adds the failed
// condition and file:line (for developers: `aslnet --verbose`, logs, tests).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message), message_(message) {}
  Error(const std::string& message, const std::string& place)
      : std::runtime_error(message.empty() ? place : message + " " + place),
        message_(message.empty() ? place : message) {}
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// An allocation that did not fit, in host or device memory. Its own type so that callers who can suggest
// a remedy (a smaller --batch or --width, --accum-steps) catch it, instead of matching a message's text.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};
// One that did not fit in a GPU's memory.
class OutOfDeviceMemory : public OutOfMemory {
 public:
  using OutOfMemory::OutOfMemory;
};

// What a user should read of any exception: an Error's message() (without its place), else what().
inline std::string user_message(const std::exception& e) {
  const auto* error = dynamic_cast<const Error*>(&e);
  return error != nullptr ? error->message() : e.what();
}

[[noreturn]] void throw_error(const char* file, int line, const char* what, const std::string& message);
// throw_error's one-line message, thrown as OutOfMemory or OutOfDeviceMemory.
[[noreturn]] void throw_out_of_memory(const char* file, int line, const std::string& message);
[[noreturn]] void throw_out_of_device_memory(const char* file, int line, const std::string& message);
void log_error(const char* file, int line, const std::string& message);

}  // namespace aslnet

// ASLNET_CHECK(cond) << "message": throws aslnet::Error naming file:line when cond is false.
namespace aslnet::detail {
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* cond) : file_(file), line_(line), cond_(cond) {}
  template <class T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }
  [[noreturn]] ~CheckFailure() noexcept(false) { throw_error(file_, line_, cond_, stream_.str()); }

 private:
  const char* file_;
  int line_;
  const char* cond_;
  std::ostringstream stream_;
};
}  // namespace aslnet::detail

#define ASLNET_CHECK(cond) \
  if (cond) {              \
  } else                   \
    ::aslnet::detail::CheckFailure(__FILE__, __LINE__, #cond)

#define ASLNET_LOG_ERROR(message) ::aslnet::log_error(__FILE__, __LINE__, (message))
