// --early-stop's rule (engine/early_stop.h): the best validation accuracy and its epoch, and when
// PATIENCE epochs without a better one stop the run, fresh and resumed.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/early_stop.h"

namespace aslnet {
namespace {

TEST(ValidationBest, OnlyAStrictlyBetterAccuracyIsANewBest) {
  ValidationBest best;
  EXPECT_FALSE(best.any());
  EXPECT_TRUE(best.offer(1, 0.0));  // any first accuracy, even 0
  EXPECT_TRUE(best.offer(2, 0.5));
  EXPECT_FALSE(best.offer(3, 0.5));  // flat is no progress
  EXPECT_FALSE(best.offer(4, 0.4));
  EXPECT_FALSE(best.offer(5, std::nan("")));
  EXPECT_EQ(best.epoch(), 2);
  EXPECT_EQ(best.accuracy(), 0.5);
}

TEST(ValidationBest, PatienceCountsEpochsSinceTheBest) {
  ValidationBest best;
  best.offer(1, 0.3);
  best.offer(2, 0.6);
  EXPECT_FALSE(best.patience_ran_out(2, 1));
  EXPECT_TRUE(best.patience_ran_out(3, 1));  // one epoch without progress, patience 1
  EXPECT_FALSE(best.patience_ran_out(3, 2));
  EXPECT_FALSE(best.patience_ran_out(4, 3));
  EXPECT_TRUE(best.patience_ran_out(5, 3));
  EXPECT_FALSE(best.patience_ran_out(100, 0));  // 0: never
}

TEST(ValidationBest, AResumedRunKeepsCountingFromItsBestEpoch) {
  ValidationBest best(0.8, 3);  // the checkpoint of epoch 4 recorded its best at epoch 3
  EXPECT_FALSE(best.offer(5, 0.7));
  EXPECT_TRUE(best.patience_ran_out(5, 2));
  EXPECT_TRUE(best.offer(6, 0.9));
  EXPECT_FALSE(best.patience_ran_out(6, 1));
}

}  // namespace
}  // namespace aslnet
