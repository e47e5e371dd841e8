// The run builder (run/replica_run.h): what each replica gets from one description of a run, and the
// one-line errors for descriptions that cannot run.
#include <gtest/gtest.h>

#include <string>

#include "data/classes.h"
#include "data/synth.h"
#include "engine/checkpoint.h"
#include "engine/replication/in_process.h"
#include "run/replica_run.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

// A small synthetic data set (29 classes x 2 images, 32 px), written once per test program.
std::string synthetic_folder() {
  static const test::TempDir dir("aslnet_run");
  static const bool written = [] {
    write_synthetic_dataset(dir.path.string(), {.per_class = 2, .size = 32, .seed = 3});
    return true;
  }();
  (void)written;
  return dir.path.string();
}

RunDescription tiny_run() {
  RunDescription run;
  run.train = index_class_folders(synthetic_folder());
  run.val = {{"held", run.train}};
  run.loader.batch = 8;
  run.loader.image_size = 32;
  run.model = {"resnet18", "small", 0.125, int64_t(asl_classes().size()), 3};
  run.optimizer = {.kind = "sgd", .momentum = 0.9};
  run.trainer.epochs = 3;
  run.trainer.schedule = {.kind = "step", .base_lr = 0.1};
  run.warmup_epochs = 0.5;
  run.step_epochs = 2;
  return run;
}

std::string error_of(const RunDescription& run, const ReplicaPlace& place) {
  try {
    build_replica_run(run, place);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ReplicaRun, OneReplicaGetsTheWholeBatchValidationAndTheScheduleInSteps) {
  const auto r = build_replica_run(tiny_run(), ReplicaPlace{});
  EXPECT_EQ(r->train->options().batch, 8);
  EXPECT_EQ(r->steps_per_epoch, 58 / 8);
  ASSERT_EQ(r->val_sets.size(), 1u);
  EXPECT_EQ(r->val_sets[0].name, "held");
  EXPECT_TRUE(r->model->is_setup());
  EXPECT_EQ(r->model->input_shape().n(), 8);
  EXPECT_EQ(r->reducer, nullptr);
  const ScheduleConfig& schedule = r->trainer->options().schedule;
  EXPECT_EQ(schedule.warmup_steps, 3);  // half of 7 steps
  EXPECT_EQ(schedule.step_size, 14);
  EXPECT_EQ(r->optimizer->step_count(), 0);
}

TEST(ReplicaRun, ReplicasSplitTheGlobalBatchAndOnlyTheLeadValidates) {
  auto comms = make_in_process_communicators({Device::cpu(), Device::cpu()});
  const RunDescription run = tiny_run();
  const auto lead = build_replica_run(run, ReplicaPlace{Device::cpu(), ShardSpec{0, 1, 2, 0}, comms[0].get(), 1});
  const auto other = build_replica_run(run, ReplicaPlace{Device::cpu(), ShardSpec{0, 1, 2, 1}, comms[1].get(), 1});
  EXPECT_EQ(lead->train->options().batch, 4);
  EXPECT_EQ(other->train->options().batch, 4);
  EXPECT_EQ(lead->val_sets.size(), 1u);
  EXPECT_TRUE(other->val_sets.empty());
  EXPECT_NE(lead->reducer, nullptr);
  EXPECT_EQ(lead->trainer->options().reducer, lead->reducer.get());
}

TEST(ReplicaRun, ResumeTakesTheCheckpointsNetworkAndStep) {
  test::TempDir dir("aslnet_run_resume");
  const std::string file = (dir.path / "last.safetensors").string();
  RunDescription first = tiny_run();
  first.model.width = 0.25;
  {
    const auto r = build_replica_run(first, ReplicaPlace{});
    r->optimizer->set_step_count(5);
    CheckpointMeta meta;
    meta.classes = asl_classes();
    save_checkpoint(file, *r->model, meta, r->optimizer.get());
  }
  RunDescription resumed = tiny_run();  // width 0.125: the checkpoint's network wins
  resumed.resume = file;
  const auto r = build_replica_run(resumed, ReplicaPlace{});
  EXPECT_EQ(r->model->info().width, 0.25);
  EXPECT_EQ(r->optimizer->step_count(), 5);
}

TEST(ReplicaRun, DescriptionsThatCannotRunAreOneLineErrorsNamingTheFlag) {
  auto comms = make_in_process_communicators({Device::cpu(), Device::cpu(), Device::cpu()});
  const std::string uneven =
      error_of(tiny_run(), ReplicaPlace{Device::cpu(), ShardSpec{0, 1, 3, 0}, comms[0].get(), 1});
  EXPECT_NE(uneven.find("--batch 8 is the global batch"), std::string::npos) << uneven;
  RunDescription both = tiny_run();
  both.resume = both.init_from = "x.safetensors";
  const std::string exclusive = error_of(both, ReplicaPlace{});
  EXPECT_NE(exclusive.find("--resume and --init-from"), std::string::npos) << exclusive;
  for (const std::string& e : {uneven, exclusive}) EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

}  // namespace
}  // namespace aslnet
