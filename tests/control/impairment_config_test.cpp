// [port.impairment]: defaults (off), every key read, `--set` overrides, range errors naming the
// key, the mbuf budget cross-check, the JSON/TOML output, and what it does to the endpoint's
// checksum settings and to the report and status line.
#include <memory>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "linetcp/control/build.hpp"
#include "linetcp/control/config.hpp"
#include "linetcp/control/stats.hpp"

namespace linetcp::control {
namespace {

using ::testing::HasSubstr;

const char* const kClient = R"(
[port]
device = "net_ring0"
[network]
address = "10.0.0.2/24"
[client]
protocol = "echo"
target = "10.0.0.1:7"
)";

Config parse(const std::vector<std::string>& overrides) {
  return parse_config(kClient, "test.toml", overrides, Role::kClient);
}

std::string error_of(const std::vector<std::string>& overrides) {
  try {
    parse(overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError";
  return {};
}

TEST(ImpairmentConfig, OffByDefault) {
  const Config c = parse({});
  EXPECT_FALSE(c.port.impairment.enabled());
  EXPECT_EQ(c.port.impairment.seed, 1u);
  EXPECT_EQ(c.port.impairment.queue, 1024u);
  EXPECT_TRUE(c.port.impairment.rx.blackout.is_never());
}

TEST(ImpairmentConfig, EveryKeyBySet) {
  const Config c = parse({"port.impairment.seed=77", "port.impairment.queue=256", "port.impairment.rx.drop=0.05",
                          "port.impairment.rx.duplicate=0.02", "port.impairment.rx.reorder=0.05",
                          "port.impairment.rx.reorder_delay_us=300", "port.impairment.rx.corrupt=0.01",
                          "port.impairment.rx.delay_us=100", "port.impairment.rx.jitter_us=20",
                          "port.impairment.tx.drop=1", "port.impairment.blackout_after_s=2.5"});
  const engine::ImpairmentConfig& im = c.port.impairment;
  EXPECT_TRUE(im.enabled());
  EXPECT_EQ(im.seed, 77u);
  EXPECT_EQ(im.queue, 256u);
  EXPECT_DOUBLE_EQ(im.rx.drop, 0.05);
  EXPECT_DOUBLE_EQ(im.rx.duplicate, 0.02);
  EXPECT_DOUBLE_EQ(im.rx.reorder, 0.05);
  EXPECT_EQ(im.rx.reorder_delay_us, 300u);
  EXPECT_DOUBLE_EQ(im.rx.corrupt, 0.01);
  EXPECT_EQ(im.rx.delay_us, 100u);
  EXPECT_EQ(im.rx.jitter_us, 20u);
  EXPECT_DOUBLE_EQ(im.tx.drop, 1.0);  // an integer is a number too
  EXPECT_DOUBLE_EQ(im.tx.duplicate, 0.0);
  EXPECT_EQ(im.rx.blackout, base::Instant::from_ns(2'500'000'000));
  EXPECT_EQ(im.tx.blackout, im.rx.blackout);
}

TEST(ImpairmentConfig, ErrorsNameTheKeyAndTheOverride) {
  EXPECT_EQ(error_of({"port.impairment.rx.drop=1.5"}),
            "test.toml: port.impairment.rx.drop: must be a number from 0 to 1, got 1.5 "
            "(from --set port.impairment.rx.drop=1.5)");
  EXPECT_THAT(error_of({"port.impairment.tx.corrupt=-0.1"}), HasSubstr("port.impairment.tx.corrupt: must be a number from 0 to 1"));
  EXPECT_THAT(error_of({"port.impairment.tx.duplicate=\"often\""}),
              HasSubstr("port.impairment.tx.duplicate: must be a number from 0 to 1, got \"often\""));
  EXPECT_THAT(error_of({"port.impairment.rx.delay_us=0.5"}), HasSubstr("port.impairment.rx.delay_us: must be an integer"));
  EXPECT_THAT(error_of({"port.impairment.seed=-1"}), HasSubstr("port.impairment.seed: must be an integer from 0"));
  EXPECT_THAT(error_of({"port.impairment.queue=8"}), HasSubstr("port.impairment.queue: must be an integer from 16 to 65536"));
  EXPECT_THAT(error_of({"port.impairment.blackout_after_s=-1"}),
              HasSubstr("port.impairment.blackout_after_s: must be a number from 0 to 86400"));
  EXPECT_EQ(error_of({"port.impairment.rx.dorp=0.1"}),
            "test.toml: port.impairment.rx.dorp: unknown key (did you mean 'port.impairment.rx.drop'?) "
            "(from --set port.impairment.rx.dorp=0.1)");
  EXPECT_THAT(error_of({"port.impairment.drop=0.1"}), HasSubstr("port.impairment.drop: unknown key"));
  EXPECT_THAT(error_of({"port.impairment.rx=0.1"}), HasSubstr("port.impairment.rx: must be a table"));
}

TEST(ImpairmentConfig, HeldFramesMustLeaveTheStackHalfThePool) {
  // 2 directions x 4096 frames x 1 worker = 8192 > 16383 / 2.
  EXPECT_THAT(error_of({"port.impairment.rx.delay_us=10", "port.impairment.queue=4096"}),
              HasSubstr("port.impairment.queue: 4096 frames held per direction and worker (8192 in all) is more "
                        "than half of dpdk.mbufs 16383"));
  // Only when the stage is on.
  EXPECT_NO_THROW(parse({"port.impairment.queue=4096"}));
  EXPECT_NO_THROW(parse({"port.impairment.rx.delay_us=10", "port.impairment.queue=4096", "dpdk.mbufs=32767"}));
}

TEST(ImpairmentConfig, JsonAndTomlRoundTrip) {
  const Config c = parse({"port.impairment.rx.drop=0.05", "port.impairment.tx.jitter_us=9",
                          "port.impairment.blackout_after_s=1.5", "port.impairment.seed=5"});
  const nlohmann::json j = to_json(c);
  EXPECT_EQ(j["port"]["impairment"]["rx"]["drop"], 0.05);
  EXPECT_EQ(j["port"]["impairment"]["tx"]["jitter_us"], 9);
  EXPECT_EQ(j["port"]["impairment"]["blackout_after_s"], 1.5);
  EXPECT_EQ(j["port"]["impairment"]["seed"], 5);
  const Config back = parse_config(to_toml(c), "round-trip.toml", {}, Role::kClient);
  EXPECT_EQ(to_json(back), j);
}

TEST(ImpairmentConfig, TransmitCorruptionTurnsChecksumOffloadOff) {
  // The port would compute the checksum after the flip and hide it from the peer.
  const wire::MacAddr mac{{2, 0, 0, 0, 0, 1}};
  EXPECT_TRUE(endpoint_config(parse({}), mac, true, 0, 1).tx_checksum_offload);
  EXPECT_TRUE(endpoint_config(parse({"port.impairment.rx.corrupt=0.1"}), mac, true, 0, 1).tx_checksum_offload);
  EXPECT_FALSE(endpoint_config(parse({"port.impairment.tx.corrupt=0.1"}), mac, true, 0, 1).tx_checksum_offload);
}

TEST(ImpairmentStats, CountersInTheReportAndTheStatusLine) {
  // WorkerStats holds three latency histograms: not for the stack.
  auto pa = std::make_unique<WorkerStats>(), pb = std::make_unique<WorkerStats>(), zero = std::make_unique<WorkerStats>();
  WorkerStats& a = *pa;
  WorkerStats& b = *pb;
  a.impairment.rx.dropped = 3;
  a.impairment.tx.corrupted = 2;
  b.impairment.rx.dropped = 4;
  b.impairment.tx.queue_full = 1;
  a.add(b);
  const nlohmann::json j = counters_json(a);
  EXPECT_EQ(j["impair_rx.dropped"], 7);
  EXPECT_EQ(j["impair_tx.corrupted"], 2);
  EXPECT_EQ(j["impair_tx.queue_full"], 1);
  EXPECT_EQ(j["impair_rx.no_buffer"], 0);
  StatusReporter status(Role::kClient);
  EXPECT_THAT(status.line(a, 1.0), HasSubstr("| impair drop 7 dup 0 reord 0 delay 0 corrupt 2 full 1"));
  StatusReporter quiet(Role::kClient);
  EXPECT_THAT(quiet.line(*zero, 1.0), ::testing::Not(HasSubstr("impair")));
  const nlohmann::json report = make_report(parse({}), a, 1.0, nlohmann::json::array(), nlohmann::json::array());
  EXPECT_EQ(report["states"]["ESTABLISHED"], 0);
  EXPECT_EQ(report["counters"]["impair_rx.dropped"], 7);
}

}  // namespace
}  // namespace linetcp::control
