// The admission policy of the server (core/admission.hpp): who gets a place in the connection
// table, who is evicted for a newcomer, when a connection without a stream role expires.
#include <gtest/gtest.h>

#include "core/admission.hpp"

using namespace rtmp;
using Stage = Admission::Stage;

namespace {

constexpr Millis kT0{1000};

AdmissionConfig config(std::size_t max, std::size_t per_address, Millis role_timeout = Millis{0}) {
  return AdmissionConfig{max, per_address, role_timeout};
}

TEST(Admission, DefaultsAreNamed) {
  const AdmissionConfig cfg;
  EXPECT_EQ(cfg.max_connections, kDefaultMaxConnections);
  EXPECT_EQ(cfg.max_per_address, kDefaultMaxConnectionsPerAddress);
  EXPECT_EQ(cfg.role_timeout, kDefaultRoleTimeout);
  EXPECT_GT(kDefaultMaxConnections, kDefaultMaxConnectionsPerAddress);
}

TEST(Admission, AdmitsWhileThereIsRoom) {
  Admission a(config(3, 0));
  for (Admission::Id id = 1; id <= 3; ++id) {
    const auto v = a.admit("10.0.0.1");
    EXPECT_TRUE(v.admit);
    EXPECT_FALSE(v.evict);
    a.add(id, "10.0.0.1", kT0);
  }
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.count("10.0.0.1"), 3u);
}

TEST(Admission, FullTableEvictsTheOldestWithoutRoleWhateverItsStage) {
  Admission a(config(4, 0));
  a.add(1, "a", kT0);
  a.add(2, "b", kT0);
  a.add(3, "c", kT0);
  a.add(4, "d", kT0);
  a.set_stage(1, Stage::role, kT0);      // publishing: never evicted
  a.set_stage(2, Stage::connected, kT0); // connected and idle: evictable
  a.set_stage(3, Stage::connected, kT0);
  auto v = a.admit("e");
  EXPECT_TRUE(v.admit);
  ASSERT_TRUE(v.evict);
  EXPECT_EQ(*v.evict, 2u);
  EXPECT_STREQ(v.reason, "evicted");
  a.remove(2);
  a.add(5, "e", kT0);
  // Next: 3 (connected), then 4 (handshake): age decides, not the stage.
  EXPECT_EQ(*a.admit("f").evict, 3u);
  a.remove(3);
  a.add(6, "f", kT0);
  EXPECT_EQ(*a.admit("g").evict, 4u);
}

TEST(Admission, ClosingConnectionsGoFirst) {
  Admission a(config(3, 0));
  a.add(1, "a", kT0);
  a.add(2, "b", kT0);
  a.add(3, "c", kT0);
  a.set_closing(3);
  EXPECT_EQ(*a.admit("d").evict, 3u);
}

TEST(Admission, FullTableOfRolesRefusesTheNewcomer) {
  Admission a(config(2, 0));
  a.add(1, "a", kT0);
  a.add(2, "b", kT0);
  a.set_stage(1, Stage::role, kT0);
  a.set_stage(2, Stage::role, kT0);
  const auto v = a.admit("c");
  EXPECT_FALSE(v.admit);
  EXPECT_FALSE(v.evict);
  EXPECT_STREQ(v.reason, "max-connections");
  // A role that ends makes the connection evictable again.
  a.set_stage(2, Stage::connected, kT0);
  EXPECT_EQ(*a.admit("c").evict, 2u);
}

TEST(Admission, PerAddressLimitEvictsWithinTheAddressOnly) {
  Admission a(config(100, 2));
  a.add(1, "flood", kT0);
  a.add(2, "other", kT0); // older than the flood's second one, from another address
  a.add(3, "flood", kT0);
  EXPECT_TRUE(a.admit("other").admit);
  const auto v = a.admit("flood");
  EXPECT_TRUE(v.admit);
  ASSERT_TRUE(v.evict);
  EXPECT_EQ(*v.evict, 1u);
  EXPECT_STREQ(v.reason, "evicted-per-address");
}

TEST(Admission, PerAddressLimitRefusesWhenTheAddressOnlyHasRoles) {
  Admission a(config(100, 2));
  a.add(1, "enc", kT0);
  a.add(2, "enc", kT0);
  a.set_stage(1, Stage::role, kT0);
  a.set_stage(2, Stage::role, kT0);
  const auto v = a.admit("enc");
  EXPECT_FALSE(v.admit);
  EXPECT_STREQ(v.reason, "max-connections-per-address");
  EXPECT_TRUE(a.admit("elsewhere").admit);
}

TEST(Admission, ZeroPerAddressMeansNoLimit) {
  Admission a(config(1000, 0));
  for (Admission::Id id = 1; id <= 500; ++id)
    a.add(id, "127.0.0.1", kT0);
  const auto v = a.admit("127.0.0.1");
  EXPECT_TRUE(v.admit);
  EXPECT_FALSE(v.evict);
}

// The flood of the tracker: many connected-but-idle clients of one address, then a publisher
// from another address. The flood holds at most its share and the publisher gets in without
// evicting anybody.
TEST(Admission, FloodFromOneAddressLeavesTheDoorOpen) {
  Admission a(config(64, 16));
  Admission::Id id = 1;
  for (int i = 0; i < 200; ++i) {
    const auto v = a.admit("127.0.0.1");
    if (v.evict)
      a.remove(*v.evict);
    if (!v.admit)
      continue;
    a.add(id, "127.0.0.1", kT0);
    a.set_stage(id, Stage::connected, kT0);
    ++id;
  }
  EXPECT_EQ(a.count("127.0.0.1"), 16u);
  const auto v = a.admit("127.0.0.2");
  EXPECT_TRUE(v.admit);
  EXPECT_FALSE(v.evict);
}

TEST(Admission, RoleTimeoutRunsOnlyWhileConnectedWithoutRole) {
  Admission a(config(10, 0, Millis{5000}));
  a.add(1, "a", kT0);
  EXPECT_FALSE(a.deadline(1)); // before connect: the session's handshake timeout
  a.set_stage(1, Stage::connected, kT0 + Millis{100});
  ASSERT_TRUE(a.deadline(1));
  EXPECT_EQ(*a.deadline(1), kT0 + Millis{5100});
  EXPECT_FALSE(a.expired(1, kT0 + Millis{5099}));
  EXPECT_TRUE(a.expired(1, kT0 + Millis{5100}));
  a.set_stage(1, Stage::role, kT0 + Millis{200});
  EXPECT_FALSE(a.deadline(1));
  EXPECT_FALSE(a.expired(1, kT0 + Millis{100000}));
  // The role ends (unpublish): the clock starts again.
  a.set_stage(1, Stage::connected, kT0 + Millis{100000});
  EXPECT_EQ(*a.deadline(1), kT0 + Millis{105000});
  // Setting the same stage again does not restart it.
  a.set_stage(1, Stage::connected, kT0 + Millis{104000});
  EXPECT_EQ(*a.deadline(1), kT0 + Millis{105000});
  a.set_closing(1);
  EXPECT_FALSE(a.deadline(1)); // its linger bounds it now
}

TEST(Admission, ZeroRoleTimeoutMeansNone) {
  Admission a(config(10, 0, Millis{0}));
  a.add(1, "a", kT0);
  a.set_stage(1, Stage::connected, kT0);
  EXPECT_FALSE(a.deadline(1));
  EXPECT_FALSE(a.expired(1, kT0 + Millis{1000000}));
}

TEST(Admission, RemoveForgetsTheConnectionAndItsAddress) {
  Admission a(config(2, 1));
  a.add(1, "a", kT0);
  a.remove(1);
  a.remove(1); // twice: harmless
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.count("a"), 0u);
  EXPECT_FALSE(a.deadline(1));
  a.set_stage(1, Stage::connected, kT0); // unknown: ignored
  EXPECT_EQ(a.size(), 0u);
  const auto v = a.admit("a");
  EXPECT_TRUE(v.admit);
  EXPECT_FALSE(v.evict);
}

TEST(WarningLimiter, OnePerIntervalWithTheCountLeftOut) {
  WarningLimiter w(Millis{5000});
  auto first = w.allow(kT0);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 0u);
  for (int i = 1; i <= 99; ++i)
    EXPECT_FALSE(w.allow(kT0 + Millis{i * 10}));
  auto next = w.allow(kT0 + Millis{5000});
  ASSERT_TRUE(next);
  EXPECT_EQ(*next, 99u);
  auto after = w.allow(kT0 + Millis{20000});
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, 0u);
}

} // namespace
