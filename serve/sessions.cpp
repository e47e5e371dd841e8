#include "serve/sessions.h"

#include <algorithm>

#include "engine/core/error.h"

namespace aslnet::serve {

SessionStore::SessionStore(SessionOptions options) : options_(options) {
  ASLNET_CHECK(options_.max_sessions >= 1) << "--max-sessions must be at least 1";
  ASLNET_CHECK(options_.idle_seconds > 0) << "--session-idle-s must be positive";
  SignDecoder check(options_.decoder);  // the thresholds are checked now, not on the first request
}

bool SessionStore::valid_id(const std::string& id) {
  if (id.size() < 8 || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

SessionStore::Session& SessionStore::find_or_create(const std::string& id, Clock::time_point now) {
  // Idle sessions go first; then, if still full, the least recently used. A linear scan: the store is
  // small (hundreds) and this runs only when a new session arrives.
  auto it = sessions_.find(id);
  if (it == sessions_.end()) {
    const auto idle = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.idle_seconds));
    std::erase_if(sessions_, [&](const auto& entry) { return now - entry.second.last_used > idle; });
    if (int(sessions_.size()) >= options_.max_sessions) {
      auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
        return a.second.last_used < b.second.last_used;
      });
      sessions_.erase(oldest);
    }
    it = sessions_.emplace(id, Session{SignDecoder(options_.decoder), now}).first;
  }
  it->second.last_used = now;
  return it->second;
}

void SessionStore::with_decoder(const std::string& id, const std::function<void(SignDecoder&)>& use) {
  std::lock_guard<std::mutex> lock(mutex_);
  use(find_or_create(id, Clock::now()).decoder);
}

void SessionStore::reset(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  find_or_create(id, Clock::now()).decoder = SignDecoder(options_.decoder);
}

size_t SessionStore::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sessions_.size();
}

}  // namespace aslnet::serve
