// Which launcher started a process, read from its environment: torchrun's, mpirun's and srun's
// variables, their precedence, the rendezvous address and port, and Slurm's compressed lists.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/core/error.h"
#include "engine/replication/launch_environment.h"
#include "engine/replication/slurm_lists.h"

namespace aslnet {
namespace {

using Vars = std::map<std::string, std::string>;

LaunchEnvironment read(const Vars& vars) {
  return launch_environment([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const Vars& vars) {
  try {
    read(vars);
  } catch (const Error& e) {
    return e.message();
  }
  return "";
}

const Vars kTorchrun = {{"RANK", "3"},
                        {"WORLD_SIZE", "4"},
                        {"LOCAL_RANK", "1"},
                        {"LOCAL_WORLD_SIZE", "2"},
                        {"MASTER_ADDR", "node7"},
                        {"MASTER_PORT", "29400"}};
const Vars kMpirun = {{"OMPI_COMM_WORLD_RANK", "1"},
                      {"OMPI_COMM_WORLD_SIZE", "2"},
                      {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                      {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}};
const Vars kSrun = {{"SLURM_PROCID", "5"},
                    {"SLURM_NTASKS", "6"},
                    {"SLURM_STEP_NUM_TASKS", "6"},
                    {"SLURM_LOCALID", "1"},
                    {"SLURM_NODEID", "2"},
                    {"SLURM_STEP_ID", "0"},
                    {"SLURM_STEP_TASKS_PER_NODE", "2(x2),2"},
                    {"SLURM_STEP_NODELIST", "gpu[08-10]"},
                    {"SLURM_JOB_ID", "123456"}};

Vars merge(Vars a, const Vars& b) {
  a.insert(b.begin(), b.end());
  return a;
}

TEST(LaunchEnvironment, APlainProcessIsRankZeroOfOne) {
  const LaunchEnvironment env = read({});
  EXPECT_EQ(env.launcher, "");
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.size, 1);
  EXPECT_EQ(env.describe(), "none (a single process)");
}

TEST(LaunchEnvironment, TorchrunsVariables) {
  const LaunchEnvironment env = read(kTorchrun);
  EXPECT_EQ(env.launcher, "torchrun");
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.size, 4);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_size, 2);
  EXPECT_EQ(env.master_addr, "node7");
  EXPECT_EQ(env.master_port, 29400);
  EXPECT_FALSE(env.uses_mpi());
  EXPECT_EQ(env.describe(), "torchrun: rank 3 of 4 (local 1 of 2), rendezvous node7:29400 over TCP");
}

TEST(LaunchEnvironment, TorchrunsOwnStoreOnMasterPortMovesOursToTheNextPort) {
  EXPECT_EQ(read(merge({{"TORCHELASTIC_USE_AGENT_STORE", "True"}}, kTorchrun)).master_port, 29401);
  EXPECT_EQ(read(merge({{"TORCHELASTIC_USE_AGENT_STORE", "False"}}, kTorchrun)).master_port, 29400);
}

TEST(LaunchEnvironment, MpirunsVariables) {
  const LaunchEnvironment env = read(kMpirun);
  EXPECT_EQ(env.launcher, "mpirun");
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.size, 2);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_TRUE(env.uses_mpi());
  const LaunchEnvironment hydra = read({{"PMI_RANK", "2"}, {"PMI_SIZE", "3"}});
  EXPECT_EQ(hydra.launcher, "mpirun");
  EXPECT_EQ(hydra.rank, 2);
  EXPECT_EQ(hydra.size, 3);
}

TEST(LaunchEnvironment, SrunsVariablesWithTheFirstNodeAsRendezvous) {
  const LaunchEnvironment env = read(kSrun);
  EXPECT_EQ(env.launcher, "srun");
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.size, 6);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_size, 2);  // node 2's entry of 2(x2),2
  EXPECT_EQ(env.master_addr, "gpu08");
  EXPECT_EQ(env.master_port, kSlurmBasePort + 123456 % kSlurmPortSpan);
  EXPECT_EQ(env.master_port, 30956);
}

TEST(LaunchEnvironment, SrunTakesMasterAddrAndPortWhenSet) {
  const LaunchEnvironment env = read(merge({{"MASTER_ADDR", "10.1.2.3"}, {"MASTER_PORT", "4000"}}, kSrun));
  EXPECT_EQ(env.launcher, "srun");
  EXPECT_EQ(env.master_addr, "10.1.2.3");
  EXPECT_EQ(env.master_port, 4000);
}

TEST(LaunchEnvironment, SrunFallsBackToTheJobsNodeListAndTasksPerNode) {
  Vars vars = {{"SLURM_PROCID", "0"},  {"SLURM_NTASKS", "4"},          {"SLURM_STEP_ID", "1"},
               {"SLURM_LOCALID", "0"}, {"SLURM_NTASKS_PER_NODE", "4"}, {"SLURM_NODELIST", "cn[3-4]"}};
  const LaunchEnvironment env = read(vars);
  EXPECT_EQ(env.size, 4);
  EXPECT_EQ(env.local_size, 4);
  EXPECT_EQ(env.master_addr, "cn3");
  EXPECT_EQ(env.master_port, kSlurmBasePort);  // no SLURM_JOB_ID
}

TEST(LaunchEnvironment, PrecedenceIsTorchrunThenMpirunThenSrun) {
  EXPECT_EQ(read(merge(merge(kTorchrun, kMpirun), kSrun)).launcher, "torchrun");
  EXPECT_EQ(read(merge(kMpirun, kSrun)).launcher, "mpirun");
  EXPECT_EQ(read(merge(kMpirun, kSrun)).rank, 1);  // mpirun's rank, not the batch step's SLURM_PROCID
  EXPECT_EQ(read(kSrun).launcher, "srun");
}

TEST(LaunchEnvironment, ABatchScriptOutsideSrunIsAPlainProcess) {
  Vars batch = kSrun;
  batch.erase("SLURM_STEP_ID");
  batch.erase("SLURM_STEP_NUM_TASKS");
  batch["SLURM_PROCID"] = "0";
  EXPECT_EQ(read(batch).launcher, "");
  EXPECT_EQ(read(batch).size, 1);
}

TEST(LaunchEnvironment, ErrorsNameTheVariable) {
  EXPECT_NE(error_of(merge({{"RANK", "one"}}, kTorchrun)).find("RANK='one' is not a whole number"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}}).find("MASTER_PORT is not set"),
            std::string::npos);
  EXPECT_NE(error_of(merge({{"RANK", "4"}}, kTorchrun)).find("rank 4 of 4"), std::string::npos);
  EXPECT_NE(error_of(merge({{"MASTER_PORT", "70000"}}, kTorchrun)).find("70000"), std::string::npos);
  Vars no_nodes = kSrun;
  no_nodes.erase("SLURM_STEP_NODELIST");
  EXPECT_NE(error_of(no_nodes).find("SLURM_STEP_NODELIST"), std::string::npos);
  EXPECT_NE(error_of(merge({{"SLURM_STEP_NODELIST", "gpu[08-"}}, kSrun)).find("SLURM_STEP_NODELIST"),
            std::string::npos);
  EXPECT_NE(error_of(merge({{"SLURM_NODEID", "3"}}, kSrun)).find("SLURM_NODEID is 3"), std::string::npos);
}

TEST(SlurmLists, ExpandsRangesListsAndPadding) {
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_slurm_hostlist("node[01-04,07],gpu3"),
            (V{"node01", "node02", "node03", "node04", "node07", "gpu3"}));
  EXPECT_EQ(expand_slurm_hostlist("a,b"), (V{"a", "b"}));
  EXPECT_EQ(expand_slurm_hostlist("n[8-10]"), (V{"n8", "n9", "n10"}));
  EXPECT_EQ(expand_slurm_hostlist("n[08-10]"), (V{"n08", "n09", "n10"}));
  EXPECT_EQ(expand_slurm_hostlist("rack[1-2]-n[1-2]"), (V{"rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"}));
  EXPECT_EQ(expand_slurm_hostlist("single"), (V{"single"}));
  EXPECT_EQ(expand_slurm_hostlist("x[5]"), (V{"x5"}));
}

TEST(SlurmLists, FirstHostWithoutExpandingTheRest) {
  EXPECT_EQ(first_slurm_host("node[01-04,07],gpu3"), "node01");
  EXPECT_EQ(first_slurm_host("gpu3,node[01-04]"), "gpu3");
  EXPECT_EQ(first_slurm_host("rack[2-3,7]-n[05-99]"), "rack2-n05");
  EXPECT_EQ(first_slurm_host("n[7,1-3]"), "n7");
  EXPECT_EQ(first_slurm_host("big[1-999999999]"), "big1");
}

TEST(SlurmLists, MalformedListsNameTheVariable) {
  for (const char* bad : {"", "n[1-", "n]1[", "n[3-1]", "n[a]", "n[1-b]", "a,,b", "n[1,]"}) {
    try {
      expand_slurm_hostlist(bad, "SLURM_STEP_NODELIST");
      ADD_FAILURE() << "'" << bad << "' was accepted";
    } catch (const Error& e) {
      EXPECT_NE(e.message().find("SLURM_STEP_NODELIST"), std::string::npos) << e.message();
    }
  }
  EXPECT_THROW(expand_slurm_hostlist("n[1-99999999]"), Error);  // more hosts than any cluster
}

TEST(SlurmLists, TasksPerNode) {
  using V = std::vector<int>;
  EXPECT_EQ(expand_slurm_tasks_per_node("2(x3),1"), (V{2, 2, 2, 1}));
  EXPECT_EQ(expand_slurm_tasks_per_node("4"), (V{4}));
  EXPECT_EQ(expand_slurm_tasks_per_node("1,3(x2)"), (V{1, 3, 3}));
  for (const char* bad : {"", "2(x", "x", "2(x3", "2(3)", "-1"})
    EXPECT_THROW(expand_slurm_tasks_per_node(bad), Error) << bad;
}

}  // namespace
}  // namespace aslnet
