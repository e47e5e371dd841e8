// SessionStore: the live text of each session builds up across requests with translate's rules, and
// the store stays bounded (idle sessions expire, the least recently used goes when full).
#include <gtest/gtest.h>

#include <thread>

#include "engine/core/error.h"
#include "serve/sessions.h"

namespace aslnet::serve {
namespace {

void hold(SessionStore& store, const std::string& id, const std::string& sign, int frames = 3) {
  store.with_decoder(id, [&](SignDecoder& d) {
    for (int i = 0; i < frames; ++i) d.push(sign, 0.9);
  });
}

std::string text(SessionStore& store, const std::string& id) {
  std::string t;
  store.with_decoder(id, [&](SignDecoder& d) { t = d.text(); });
  return t;
}

TEST(SessionStore, ValidIds) {
  EXPECT_TRUE(SessionStore::valid_id("abcdEFGH"));
  EXPECT_TRUE(SessionStore::valid_id("a-b_c-0123456789"));
  EXPECT_TRUE(SessionStore::valid_id(std::string(64, 'x')));
  EXPECT_FALSE(SessionStore::valid_id("short"));
  EXPECT_FALSE(SessionStore::valid_id(std::string(65, 'x')));
  EXPECT_FALSE(SessionStore::valid_id("abcd efgh"));
  EXPECT_FALSE(SessionStore::valid_id("abcd/efgh"));
  EXPECT_FALSE(SessionStore::valid_id(""));
}

TEST(SessionStore, TextBuildsUpAcrossRequestsPerSession) {
  SessionStore store({{0.6, 3}, 16, 600});
  // Two frames in one request, one in the next: the hold spans requests.
  store.with_decoder("session-one", [](SignDecoder& d) { d.push("H", 0.9), d.push("H", 0.9); });
  EXPECT_EQ(text(store, "session-one"), "");
  hold(store, "session-one", "H", 1);
  hold(store, "session-two", "X");
  hold(store, "session-one", "I");
  hold(store, "session-one", "space");
  EXPECT_EQ(text(store, "session-one"), "HI ");
  EXPECT_EQ(text(store, "session-two"), "X");
  store.reset("session-one");
  EXPECT_EQ(text(store, "session-one"), "");
  EXPECT_EQ(text(store, "session-two"), "X");
}

TEST(SessionStore, TheLeastRecentlyUsedGoesWhenFull) {
  SessionStore store({{0.6, 1}, 3, 600});
  hold(store, "session-a", "A");
  hold(store, "session-b", "B");
  hold(store, "session-c", "C");
  hold(store, "session-a", "D");  // a is now the most recent; b the least
  hold(store, "session-d", "E");
  EXPECT_EQ(store.size(), 3u);
  EXPECT_EQ(text(store, "session-a"), "AD");
  EXPECT_EQ(text(store, "session-c"), "C");
  EXPECT_EQ(text(store, "session-b"), "");  // forgotten, and now new
}

TEST(SessionStore, IdleSessionsAreForgotten) {
  SessionStore store({{0.6, 1}, 16, 0.05});
  hold(store, "session-a", "A");
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  hold(store, "session-b", "B");  // a new session sweeps the idle ones
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(text(store, "session-a"), "");
}

TEST(SessionStore, RejectsBadOptions) {
  EXPECT_THROW(SessionStore({{0.6, 3}, 0, 600}), Error);
  EXPECT_THROW(SessionStore({{0.6, 3}, 16, 0}), Error);
  EXPECT_THROW(SessionStore({{1.5, 3}, 16, 600}), Error);
}

}  // namespace
}  // namespace aslnet::serve
