// `aslnet train --resume CHECKPOINT`: the run continues as it was started. Every checkpoint carries
// the record of its run's options (run.json's "options", in its metadata); resuming takes each option
// the command line does not give from that record, so `--resume C` needs no other flag. An option given
// that contradicts the record is refused with both values, except those that may change on a resumed
// run (may_change_on_resume()): how long it trains, where and how fast it runs, what it shows.
#pragma once

#include <CLI/CLI.hpp>
#include <set>
#include <string>

#include "app/train.h"

namespace aslnet::app {

// The options a resumed run may give differently from the record (README: Resuming).
const std::set<std::string>& may_change_on_resume();

// Adopts the record of the run that wrote `o.resume` into `cmd` (and so into `o`), refusing
// contradictions; for a checkpoint written before records, checks the network and input size against its
// metadata as before. Also refuses a run that already finished its epochs.
void adopt_resumed_run(CLI::App& cmd, TrainOptions& o);

}  // namespace aslnet::app
