// The folder a training run writes into (--out). Each new run gets a folder of its own by default,
// runs/<date>-<time>-<arch>, and runs/latest (a symbolic link) points at the newest; a folder that
// already holds files is refused unless --overwrite says to replace the run in it, so that one run never
// mixes its checkpoints and log with another's.
#pragma once

#include <string>
#include <vector>

namespace aslnet::app {

// The files a run writes into its folder (the checkpoints, logs, the record of its options).
const std::vector<std::string>& run_files();

// A new, empty folder under `parent` named after the time and the architecture
// ("runs/20261203-101502-resnet18", "-2" appended if that exists), made now.
std::string new_run_folder(const std::string& parent, const std::string& arch);

// Makes `out` ready for a new run: made if missing; refused when it holds anything unless `overwrite`,
// which removes the files of the run there before (run_files()) and leaves anything else.
void prepare_run_folder(const std::string& out, bool overwrite);

// Points `parent`/latest at `out` (a relative link, so runs/ can move). A real file or folder named
// latest is left alone, with the reason returned; "" when done.
std::string point_latest(const std::string& out);

}  // namespace aslnet::app
