// The live-translation sessions of aslnet serve: one SignDecoder per session id, so that a browser
// sending one webcam frame per request gets the text built up across requests with the same rules as
// aslnet translate. Bounded: a session idle for too long is forgotten, and when the store is full the
// least recently used one goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "translate/sign_decoder.h"

namespace aslnet::serve {

struct SessionOptions {
  SignDecoderOptions decoder;
  int max_sessions = 256;
  double idle_seconds = 600;
};

class SessionStore {
 public:
  explicit SessionStore(SessionOptions options);

  // A client-chosen id: 8 to 64 characters of A-Z, a-z, 0-9, '_' and '-'.
  static bool valid_id(const std::string& id);

  // Runs `use` on the session's decoder (created empty when new or forgotten), under the store's lock.
  void with_decoder(const std::string& id, const std::function<void(SignDecoder&)>& use);
  // Empties a session's text (creates it when missing).
  void reset(const std::string& id);
  size_t size() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Session {
    SignDecoder decoder;
    Clock::time_point last_used;
  };
  Session& find_or_create(const std::string& id, Clock::time_point now);

  SessionOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Session> sessions_;
};

}  // namespace aslnet::serve
