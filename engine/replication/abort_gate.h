// AbortGate: how one thread may abort a communicator that its owner thread is using at that very moment,
// without the handle being freed under the owner. The NCCL communicator is built on it; the protocol
// lives here, apart from NCCL, so that a test can race it on the CPU (tests/replication/test_abort_gate.cpp).
//
// The problem. When a replica thread fails, run_replica_threads (replica_threads.cpp) calls abort() on
// every replica's communicator, so that peers blocked in a collective stop at once. For NCCL, aborting
// is ncclCommAbort, which frees the communicator. But the peer that owns that communicator may be
// polling it right then: "if aborted, throw; else ncclCommGetAsyncError(comm)". That is a
// check-then-use: an abort landing between the check and the use frees the communicator that the owner
// is about to read, a use after free. No atomic flag can close the gap, because the check and the use
// are two steps. NCCL says the same in its own words: a communicator may be used from several threads
// only if no two of them use it at once (NCCL user guide, "Thread Safety"), and ncclCommAbort is a use.
//
// The protocol. The owner brackets every use of the handle with a Use (RAII). Under one mutex:
//   use()       throws PeerFailure with the abort's reason once an abort has been asked for; otherwise it
//               marks the handle busy and returns the Use;
//   ~Use        marks the handle idle and, if an abort was asked for meanwhile, runs it now, on the
//               owner's thread, before any other use can begin;
//   abort(why)  records the first reason; if the handle is idle it runs the abort action at once (under
//               the mutex, so no use can begin during it); if it is busy it leaves the action to ~Use and
//               returns: it never waits for the owner.
// So the abort action never overlaps a use and runs exactly once, and an idle communicator is aborted at
// once (which is what frees a GPU kernel stuck in a collective). The owner's uses are short, one NCCL
// call that queues work or queries state without waiting for a peer, so a deferred abort runs within
// microseconds. (A use that blocked until a peer answered would defer the abort for as long: keep
// waits on peers outside uses, polling, as NcclCommunicator::synchronize does.)
#pragma once

#include <functional>
#include <mutex>
#include <string>

namespace aslnet {

class AbortGate {
 public:
  // `abort_handle` frees the handle (ncclCommAbort). It runs at most once, never during a use, and must
  // not throw.
  explicit AbortGate(std::function<void()> abort_handle);
  AbortGate(const AbortGate&) = delete;
  AbortGate& operator=(const AbortGate&) = delete;

  // While a Use lives, the owner may use the handle and no abort runs.
  class [[nodiscard]] Use {
   public:
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    friend class AbortGate;
    explicit Use(AbortGate& gate) : gate_(gate) {}
    AbortGate& gate_;
  };

  // The owner, before each use of the handle: a Use, or PeerFailure(reason) once an abort was asked for.
  // Uses do not nest (one owner thread, one call at a time).
  Use use();
  // Any thread: asks for the abort (the first reason is kept). Never blocks on a use; never throws.
  void abort(const std::string& why) noexcept;
  // Whether an abort was asked for (the handle must not be used again; once no use is live, it is freed).
  bool aborted() const;
  std::string reason() const;

 private:
  void run_abort_locked() noexcept;  // runs abort_handle_ once; the caller holds mutex_

  std::function<void()> abort_handle_;
  mutable std::mutex mutex_;
  bool busy_ = false;       // a Use is live
  bool requested_ = false;  // abort() was called
  bool done_ = false;       // abort_handle_ has run
  std::string reason_;
};

}  // namespace aslnet
