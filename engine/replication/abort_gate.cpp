#include "engine/replication/abort_gate.h"

#include "engine/replication/communicator.h"

namespace aslnet {

AbortGate::AbortGate(std::function<void()> abort_handle) : abort_handle_(std::move(abort_handle)) {}

AbortGate::Use AbortGate::use() {
  std::lock_guard<std::mutex> lock(mutex_);
  // Checked under the same lock that abort() takes: no abort can slip in between this check and the
  // use, because from here until ~Use the handle is marked busy and abort() leaves it alone.
  if (requested_) throw PeerFailure(reason_);
  busy_ = true;
  return Use(*this);
}

AbortGate::Use::~Use() {
  std::lock_guard<std::mutex> lock(gate_.mutex_);
  gate_.busy_ = false;
  // An abort asked for during the use: the owner runs it now, before it can begin another use.
  if (gate_.requested_) gate_.run_abort_locked();
}

void AbortGate::abort(const std::string& why) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!requested_) {
    requested_ = true;
    reason_ = why;
  }
  // Idle: free the handle now (a kernel stuck in a collective is released at once). Busy: ~Use will.
  if (!busy_) run_abort_locked();
}

void AbortGate::run_abort_locked() noexcept {
  if (done_) return;
  done_ = true;
  abort_handle_();
}

bool AbortGate::aborted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requested_;
}

std::string AbortGate::reason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reason_;
}

}  // namespace aslnet
