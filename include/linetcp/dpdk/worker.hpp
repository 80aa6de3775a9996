// One worker: an lcore that owns one RX/TX queue pair, an Endpoint and a Workload, and runs the
// run-to-completion loop of DESIGN.md. It shares nothing with other workers; it publishes its
// counters to the main lcore through a seqlock.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "linetcp/app/workload.hpp"
#include "linetcp/base/seqlock.hpp"
#include "linetcp/control/capture.hpp"
#include "linetcp/control/stats.hpp"
#include "linetcp/dpdk/port.hpp"
#include "linetcp/dpdk/steering.hpp"
#include "linetcp/engine/endpoint.hpp"
#include "linetcp/engine/impairment.hpp"

struct rte_mbuf;

namespace linetcp::dpdk {

// The FrameSink of the TX path: mbufs taken from the pool in bulk, frames sent in bursts; what
// tx_burst refuses waits for the next flush, and while too much waits the endpoint holds back.
class TxBatch final : public engine::FrameSink {
 public:
  TxBatch(uint16_t port, uint16_t queue, rte_mempool* pool, uint16_t burst, control::PortCounters& counters);
  ~TxBatch();
  std::span<uint8_t> alloc_frame() override;
  void commit_frame(std::size_t len, const engine::TxMeta& meta) override;
  void flush();
  // --capture: sent frames are recorded too, stamped with the loop's time.
  control::Capture* capture = nullptr;
  uint64_t now_ns = 0;
  // [port.impairment] tx (null: off): frames pass it on their way to pending_; those it holds
  // back join pending_ when due (at a flush), and go back to the pool when the batch ends.
  engine::Impairment* impair = nullptr;
  // The port inserts VLAN tags: each frame goes through rte_eth_tx_prepare, where some PMDs do
  // the insert (virtio writes the tag in software there, and sends untagged frames without it).
  bool prepare = false;

 private:
  static constexpr uint16_t kMax = 512;
  uint16_t port_, queue_;
  rte_mempool* pool_;
  uint16_t burst_;
  control::PortCounters& counters_;
  rte_mbuf* pending_[kMax];
  uint16_t pending_count_ = 0;
  rte_mbuf* spare_[64];
  uint16_t spare_count_ = 0;
  rte_mbuf* current_ = nullptr;
};

class Worker {
 public:
  // `steering` (shared by all workers, may be null with one worker) hands frames that arrive at
  // the wrong worker to their owner.
  Worker(uint32_t index, Port& port, uint16_t queue, const engine::EndpointConfig& endpoint,
         std::unique_ptr<app::Workload> workload, const control::DpdkConfig& dpdk,
         const Steering* steering = nullptr, control::Capture* capture = nullptr);

  // The loop. `stop` ends the workload (the client closes its connections); the loop returns
  // once the workload is finished or `grace` has passed. `hook`, when set, runs about every
  // millisecond (the main lcore's control work when it also runs this worker) and may return
  // false to request the stop itself. `peer_busy`, when set, keeps the finished loop polling (within
  // `grace`) while it returns true, so the peer's last retransmissions still get their answers.
  void run(const std::atomic<bool>& stop, base::Duration grace, const std::function<bool()>& hook = {},
           const std::function<bool()>& peer_busy = {});

  bool snapshot(control::WorkerStats& out) const { return published_.read(out); }
  uint32_t index() const { return index_; }
  const engine::Endpoint& endpoint() const { return *endpoint_; }
  // For set-up before run() (e.g. the RSS port filter); never from another thread while it runs.
  engine::Endpoint& endpoint() { return *endpoint_; }

 private:
  void publish(bool with_states);
  // Hands each received frame to its owner; keeps ours in `mine`, returns how many.
  uint16_t steer(rte_mbuf** rx, uint16_t n, rte_mbuf** mine);
  void deliver(rte_mbuf** frames, uint16_t n, base::Instant now);
  // [port.impairment] rx: the `n` frames in `rx` through the stage; writes what comes out now
  // (held frames that are due first) back to `rx` (room for kRxRoom), returns how many.
  uint16_t impair_rx(rte_mbuf** rx, uint16_t n, base::Instant now);

  uint32_t index_;
  Port& port_;
  uint16_t queue_;
  control::DpdkConfig dpdk_;
  std::unique_ptr<engine::Endpoint> endpoint_;
  std::unique_ptr<app::Workload> workload_;
  const Steering* steering_;
  control::Capture* capture_;  // --capture (null: off)
  // Non-zero where the port strips 802.1Q tags: a frame is ours only if it came with this id.
  uint16_t rx_vlan_ = 0;
  std::unique_ptr<engine::Impairment> impair_rx_;  // [port.impairment] (null: off)
  std::unique_ptr<engine::Impairment> impair_tx_;
  control::WorkerStats stats_{};  // the worker's own copy, published now and then
  base::SeqLock<control::WorkerStats> published_;
};

}  // namespace linetcp::dpdk
