// data/sampler: DistributedSampler with torch's semantics. Shards of one epoch are disjoint but for the
// padding, equal in length and together cover the data set; the order depends on (seed, epoch) only;
// replicas are numbered across processes; bad shard specs are refused with a message that names them.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "data/sampler.h"
#include "engine/core/error.h"

namespace aslnet {
namespace {

ShardSpec spec(int global, int replicas) { return ShardSpec{global, replicas, 1, 0}; }

// Every replica's indices for one epoch, one vector per global replica.
std::vector<std::vector<int64_t>> all_shards(int64_t size, int replicas, bool shuffle, int64_t epoch,
                                             bool drop_last = false, uint64_t seed = 3) {
  std::vector<std::vector<int64_t>> out;
  for (int r = 0; r < replicas; ++r) {
    out.push_back(DistributedSampler(size, spec(r, replicas), shuffle, seed, drop_last).indices(epoch));
  }
  return out;
}

TEST(DistributedSampler, ShardsCoverTheEpochWithPadding) {
  for (const int64_t size : {1, 2, 7, 10, 12, 13, 100, 101}) {
    for (const int replicas : {1, 2, 3, 4, 8}) {
      for (const bool shuffle : {false, true}) {
        const auto shards = all_shards(size, replicas, shuffle, 4);
        const int64_t per = (size + replicas - 1) / replicas;
        EXPECT_EQ(DistributedSampler(size, spec(0, replicas), shuffle, 3).per_replica(), per);
        std::vector<int64_t> counts(size_t(size), 0);
        for (const auto& shard : shards) {
          EXPECT_EQ(int64_t(shard.size()), per) << size << "/" << replicas;
          for (const int64_t i : shard) {
            ASSERT_TRUE(i >= 0 && i < size) << i;
            ++counts[size_t(i)];
          }
        }
        // Every sample read; only the padding (total - size of them) read twice (or more when
        // the data set is smaller than the padding).
        int64_t extra = 0;
        for (const int64_t c : counts) {
          EXPECT_GE(c, 1);
          extra += c - 1;
        }
        EXPECT_EQ(extra, per * replicas - size) << size << "/" << replicas;
        if (per * replicas - size <= size) {
          for (const int64_t c : counts) EXPECT_LE(c, 2);
        }
      }
    }
  }
}

TEST(DistributedSampler, DropLastTruncatesToEqualDisjointShards) {
  for (const int64_t size : {3, 10, 13, 101}) {
    for (const int replicas : {1, 2, 3, 4}) {
      const auto shards = all_shards(size, replicas, true, 2, /*drop_last=*/true);
      const int64_t per = size / replicas;
      std::set<int64_t> seen;
      for (const auto& shard : shards) {
        EXPECT_EQ(int64_t(shard.size()), per);
        for (const int64_t i : shard) EXPECT_TRUE(seen.insert(i).second) << i << " read twice";
      }
      EXPECT_EQ(int64_t(seen.size()), per * replicas);
    }
  }
  // Fewer samples than replicas: nothing to read.
  EXPECT_TRUE(DistributedSampler(2, spec(1, 4), true, 0, true).indices(0).empty());
  EXPECT_TRUE(DistributedSampler(0, spec(0, 2), true, 0).indices(0).empty());
}

TEST(DistributedSampler, IdentityOrderWithoutShuffle) {
  // Round-robin over 0..n-1, padded from the start: replica 1 of 3 over 7 samples reads 1, 4, 0.
  EXPECT_EQ(DistributedSampler(7, spec(1, 3), false, 0).indices(0), (std::vector<int64_t>{1, 4, 0}));
  EXPECT_EQ(DistributedSampler(7, spec(0, 3), false, 0).indices(5), (std::vector<int64_t>{0, 3, 6}));
  EXPECT_EQ(DistributedSampler(7, spec(2, 3), false, 0).indices(0), (std::vector<int64_t>{2, 5, 1}));
  std::vector<int64_t> all(9);
  for (int64_t i = 0; i < 9; ++i) all[size_t(i)] = i;
  EXPECT_EQ(DistributedSampler(9, spec(0, 1), false, 0).indices(3), all);
}

TEST(DistributedSampler, ShuffleDependsOnSeedAndEpochOnly) {
  const DistributedSampler a(1000, spec(0, 1), true, 7);
  const DistributedSampler b(1000, spec(0, 1), true, 7);
  const DistributedSampler c(1000, spec(0, 1), true, 8);
  const auto e0 = a.indices(0);
  EXPECT_EQ(b.indices(0), e0);  // same (seed, epoch): same order, from any instance
  EXPECT_EQ(a.indices(0), e0);  // and indices() has no hidden state
  EXPECT_NE(a.indices(1), e0);
  EXPECT_NE(c.indices(0), e0);
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[size_t(i)], i);  // a permutation
  std::vector<int64_t> identity = sorted;
  EXPECT_NE(e0, identity);
}

TEST(DistributedSampler, ShardsInterleaveOnePermutation) {
  // The shards are the round-robin deal of the single-replica order of the same (seed, epoch).
  const auto whole = DistributedSampler(12, spec(0, 1), true, 11).indices(6);
  const auto shards = all_shards(12, 4, true, 6, false, 11);
  for (size_t k = 0; k < whole.size(); ++k) EXPECT_EQ(shards[k % 4][k / 4], whole[k]);
}

TEST(DistributedSampler, GlobalReplicaAcrossProcesses) {
  // Two processes with three replicas each read the same shards as six single-replica processes.
  for (int rank = 0; rank < 2; ++rank) {
    for (int replica = 0; replica < 3; ++replica) {
      const ShardSpec s{rank, 2, 3, replica};
      EXPECT_EQ(s.global_replica(), rank * 3 + replica);
      EXPECT_EQ(s.total_replicas(), 6);
      EXPECT_EQ(DistributedSampler(50, s, true, 1).indices(2),
                DistributedSampler(50, spec(rank * 3 + replica, 6), true, 1).indices(2));
    }
  }
}

TEST(DistributedSampler, InvalidSpecsAreRefused) {
  const auto message = [](int64_t size, ShardSpec s) -> std::string {
    try {
      DistributedSampler(size, s, true, 0);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(message(10, {2, 2, 1, 0}).find("rank 2"), std::string::npos);
  EXPECT_NE(message(10, {-1, 2, 1, 0}).find("rank -1"), std::string::npos);
  EXPECT_NE(message(10, {0, 0, 1, 0}).find("world size"), std::string::npos);
  EXPECT_NE(message(10, {0, 1, 0, 0}).find("replicas per process"), std::string::npos);
  EXPECT_NE(message(10, {0, 1, 2, 2}).find("replica 2"), std::string::npos);
  EXPECT_NE(message(10, {0, 1, 2, -1}).find("replica -1"), std::string::npos);
  EXPECT_NE(message(-1, {0, 1, 1, 0}).find("size"), std::string::npos);
  EXPECT_EQ(message(10, {1, 2, 2, 1}), "");
}

}  // namespace
}  // namespace aslnet
