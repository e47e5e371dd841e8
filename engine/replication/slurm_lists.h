// Slurm's compressed lists, as srun puts them in a task's environment. Slurm writes a node list with
// ranges in brackets (`node[01-04,07],gpu3` is node01, node02, node03, node04, node07 and gpu3; a name
// may hold several bracket groups, `rack[1-2]-n[1-2]`), and tasks per node with repeat counts
// (`2(x3),1`: three nodes with two tasks, then one with one). launch_environment.cpp reads the first
// host of the step's node list (where rank 0 runs, so where the others find it) and this node's
// entry of the tasks per node (the local world size).
#pragma once

#include <string>
#include <vector>

namespace aslnet {

// Every host of a node list, in Slurm's order (zero padding kept: `n[08-10]` is n08, n09, n10).
// Throws an Error naming `variable` on a malformed list.
std::vector<std::string> expand_slurm_hostlist(const std::string& list, const char* variable = "the node list");

// The first host of a node list, without expanding the rest.
std::string first_slurm_host(const std::string& list, const char* variable = "the node list");

// Tasks per node: `2(x3),1` is {2, 2, 2, 1}. Throws an Error naming `variable` on a malformed list.
std::vector<int> expand_slurm_tasks_per_node(const std::string& list, const char* variable = "the tasks per node");

}  // namespace aslnet
