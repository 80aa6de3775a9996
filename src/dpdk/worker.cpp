// The worker loop: RX burst -> Endpoint input -> timers -> workload -> output -> TX burst.
#include "linetcp/dpdk/worker.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "linetcp/base/compiler.hpp"
#include "linetcp/dpdk/clock.hpp"

namespace linetcp::dpdk {

using base::Duration;
using base::Instant;

namespace {
// The impairment stage's view of an mbuf. A duplicate is the same mbuf with one more reference:
// nothing is allocated, and each copy's free (by us, or by the PMD after transmit) drops one.
struct MbufOps {
  std::span<uint8_t> bytes(engine::Impairment::Frame f) {
    auto* m = static_cast<rte_mbuf*>(f);
    return {rte_pktmbuf_mtod(m, uint8_t*), m->data_len};
  }
  engine::Impairment::Frame clone(engine::Impairment::Frame f) {
    auto* m = static_cast<rte_mbuf*>(f);
    if (rte_mbuf_refcnt_read(m) >= UINT16_MAX - 1) return nullptr;
    rte_mbuf_refcnt_update(m, 1);
    return m;
  }
  void free(engine::Impairment::Frame f) { rte_pktmbuf_free(static_cast<rte_mbuf*>(f)); }
};

// Room for a burst after the stage: every frame may become two, plus held frames now due.
constexpr uint16_t kRxRoom = 1024;
constexpr uint16_t kRxBurstMax = 512;
constexpr int64_t kImpairedGraceFactor = 6;
}  // namespace

TxBatch::TxBatch(uint16_t port, uint16_t queue, rte_mempool* pool, uint16_t burst, control::PortCounters& counters)
    : port_(port), queue_(queue), pool_(pool), burst_(std::min<uint16_t>(burst, kMax)), counters_(counters) {}

TxBatch::~TxBatch() {
  if (impair) impair->drain([](engine::Impairment::Frame f) { rte_pktmbuf_free(static_cast<rte_mbuf*>(f)); });
  for (int tries = 0; tries < 1000 && pending_count_ > 0; ++tries) flush();
  if (pending_count_) rte_pktmbuf_free_bulk(pending_, pending_count_);
  if (spare_count_) rte_pktmbuf_free_bulk(spare_, spare_count_);
}

std::span<uint8_t> TxBatch::alloc_frame() {
  // Back-pressure: while the TX ring refuses frames, the endpoint keeps its segments queued.
  // With impairment a frame may leave as two.
  if (pending_count_ + (impair ? 1 : 0) >= kMax) return {};
  if (spare_count_ == 0) {
    if (rte_pktmbuf_alloc_bulk(pool_, spare_, 32) != 0) {
      // The pool may still hold fewer than 32: take one.
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      if (!m) {
        ++counters_.mbuf_exhausted;
        return {};
      }
      spare_[spare_count_++] = m;
    } else {
      spare_count_ = 32;
    }
  }
  current_ = spare_[--spare_count_];
  return {rte_pktmbuf_mtod(current_, uint8_t*), rte_pktmbuf_tailroom(current_)};
}

void TxBatch::commit_frame(std::size_t len, const engine::TxMeta& meta) {
  if (len == 0) {  // unused: keep it for the next frame
    spare_[spare_count_++] = current_;
    current_ = nullptr;
    return;
  }
  rte_mbuf* m = current_;
  current_ = nullptr;
  m->data_len = static_cast<uint16_t>(len);
  m->pkt_len = static_cast<uint32_t>(len);
  if (meta.vlan_tci != 0) {  // hardware VLAN insert (the port offers it: see port.cpp)
    m->ol_flags |= RTE_MBUF_F_TX_VLAN;
    m->vlan_tci = meta.vlan_tci;
  }
  if (meta.checksum_offload) {
    m->ol_flags |= meta.ipv6 ? RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM
                             : RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
    m->l2_len = meta.l2_len;
    m->l3_len = meta.l3_len;
  }
  // Prepared here, before capture and impairment: the capture shows the frame as prepared, and an
  // impairment duplicate (one mbuf, two references) could not take the tag (rte_vlan_insert
  // refuses shared mbufs). A frame the TX ring refused is retried as it is, not prepared again.
  if (LINETCP_UNLIKELY(prepare) && rte_eth_tx_prepare(port_, queue_, &m, 1) != 1) {
    ++counters_.tx_prepare_failed;
    rte_pktmbuf_free(m);
    return;
  }
  counters_.tx_bytes += m->data_len;  // the frame as sent: with a tag, where prepare inserted one
  if (capture) capture->record({rte_pktmbuf_mtod(m, const uint8_t*), m->data_len}, now_ns);
  if (LINETCP_UNLIKELY(impair != nullptr)) {
    MbufOps ops;
    pending_count_ = static_cast<uint16_t>(
        pending_count_ + impair->admit(m, Instant::from_ns(now_ns), reinterpret_cast<void**>(pending_ + pending_count_), ops));
  } else {
    pending_[pending_count_++] = m;
  }
  if (pending_count_ >= burst_) flush();
}

void TxBatch::flush() {
  if (LINETCP_UNLIKELY(impair != nullptr) && impair->next_release().ns() <= now_ns) {
    pending_count_ = static_cast<uint16_t>(
        pending_count_ + impair->release(Instant::from_ns(now_ns), reinterpret_cast<void**>(pending_ + pending_count_),
                                         kMax - pending_count_));
  }
  if (pending_count_ == 0) return;
  const uint16_t done = rte_eth_tx_burst(port_, queue_, pending_, pending_count_);
  counters_.tx_packets += done;
  if (done < pending_count_) {
    // The ring is full: keep the rest for the next flush (nothing is dropped; the endpoint stops
    // producing while pending_ is full) and count the event.
    ++counters_.tx_queue_full;
    std::memmove(pending_, pending_ + done, sizeof(rte_mbuf*) * (pending_count_ - done));
  }
  pending_count_ = static_cast<uint16_t>(pending_count_ - done);
}

Worker::Worker(uint32_t index, Port& port, uint16_t queue, const engine::EndpointConfig& endpoint,
               std::unique_ptr<app::Workload> workload, const control::DpdkConfig& dpdk,
               const Steering* steering, control::Capture* capture)
    : index_(index),
      port_(port),
      queue_(queue),
      dpdk_(dpdk),
      endpoint_(std::make_unique<engine::Endpoint>(endpoint)),
      workload_(std::move(workload)),
      steering_(steering && steering->workers() > 1 ? steering : nullptr),
      capture_(capture),
      rx_vlan_(port.caps().vlan_strip ? endpoint.vlan : 0) {
  // Each worker and direction draws its own stream from the one seed.
  const engine::ImpairmentConfig& im = port.impairment();
  const uint64_t seed = im.seed ^ (uint64_t{index} * 0x9e3779b97f4a7c15ull);
  if (im.rx.enabled()) impair_rx_ = std::make_unique<engine::Impairment>(im.rx, seed, im.queue);
  if (im.tx.enabled()) impair_tx_ = std::make_unique<engine::Impairment>(im.tx, ~seed, im.queue);
}

uint16_t Worker::impair_rx(rte_mbuf** rx, uint16_t n, Instant now) {
  rte_mbuf* in[kRxBurstMax];
  std::memcpy(in, rx, sizeof(rte_mbuf*) * n);
  // Frames held earlier and now due go first: they arrived first.
  uint16_t out = static_cast<uint16_t>(
      impair_rx_->release(now, reinterpret_cast<void**>(rx), static_cast<unsigned>(kRxRoom - 2 * n)));
  MbufOps ops;
  for (uint16_t i = 0; i < n; ++i)
    out = static_cast<uint16_t>(out + impair_rx_->admit(in[i], now, reinterpret_cast<void**>(rx + out), ops));
  return out;
}

uint16_t Worker::steer(rte_mbuf** rx, uint16_t n, rte_mbuf** mine) {
  uint16_t kept = 0;
  const uint32_t workers = steering_->workers();
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = rx[i];
    const uint32_t owner = steering_->owner(m, index_);
    if (owner == index_) {
      mine[kept++] = m;
      continue;
    }
    if (owner == Steering::kAll) {
      // The same read-only frame to everyone: one reference each.
      rte_mbuf_refcnt_update(m, static_cast<int16_t>(workers - 1));
      for (uint32_t w = 0; w < workers; ++w) {
        if (w == index_) continue;
        if (rte_ring_enqueue(steering_->ring(index_, w), m) != 0) {
          ++stats_.port.handoff_full;
          rte_pktmbuf_free(m);  // drops that worker's reference
        } else {
          ++stats_.port.handoff_out;
        }
      }
      mine[kept++] = m;
      continue;
    }
    if (rte_ring_enqueue(steering_->ring(index_, owner), m) != 0) {
      ++stats_.port.handoff_full;
      rte_pktmbuf_free(m);
    } else {
      ++stats_.port.handoff_out;
    }
  }
  return kept;
}

void Worker::deliver(rte_mbuf** frames, uint16_t n, Instant now) {
  engine::Endpoint& ep = *endpoint_;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) {
      rte_prefetch0(rte_pktmbuf_mtod(frames[i + 1], void*));
      ep.prefetch_input({rte_pktmbuf_mtod(frames[i + 1], const uint8_t*), frames[i + 1]->data_len});
    }
    rte_mbuf* m = frames[i];
    if (m->nb_segs != 1) {
      ++stats_.port.rx_oversized;  // larger than one mbuf: we run without scatter
      continue;
    }
    if (capture_) capture_->record({rte_pktmbuf_mtod(m, const uint8_t*), m->data_len}, now.ns());
    // The port stripped the tag (the engine sees an untagged frame): the VLAN check is here. A
    // frame the port did not strip was untagged on the wire, or tagged twice: not ours either.
    if (LINETCP_UNLIKELY(rx_vlan_ != 0) &&
        ((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) == 0 || (m->vlan_tci & 0xfff) != rx_vlan_)) {
      ++stats_.port.rx_vlan_other;
      continue;
    }
    ep.input({rte_pktmbuf_mtod(m, const uint8_t*), m->data_len}, now);
  }
  if (n) rte_pktmbuf_free_bulk(frames, n);
}

void Worker::publish(bool with_states) {
  const engine::Endpoint& ep = *endpoint_;
  if (with_states) stats_.states = ep.state_histogram();
  stats_.active_connections = ep.active_connections();
  stats_.time_wait = ep.time_wait_count();
  stats_.ports_available = ep.ports_available();
  stats_.endpoint = ep.counters();
  stats_.tcp = ep.tcp_counters();
  if (const auto* h = workload_->http()) stats_.http = *h;
  if (const auto* e = workload_->echo()) stats_.echo = *e;
  if (const auto* d = workload_->discard()) stats_.discard = *d;
  // The pool is the port's, shared by its workers: one of them reads it.
  if (index_ == 0) stats_.mbufs_in_use = rte_mempool_in_use_count(port_.pool());
  if (impair_rx_) stats_.impairment.rx = impair_rx_->counters();
  if (impair_tx_) stats_.impairment.tx = impair_tx_->counters();
  if (const app::LoadClient* c = workload_->client()) {
    stats_.client = c->counters();
    stats_.client_active = c->active();
    stats_.connect = c->connect_latency();
    stats_.first_byte = c->first_byte_latency();
    stats_.request = c->request_latency();
  }
  published_.write(stats_);
}

void Worker::run(const std::atomic<bool>& stop, Duration grace, const std::function<bool()>& hook,
                 const std::function<bool()>& peer_busy) {
  // The endpoint's clock starts when the worker does, so its timer wheel starts at zero too.
  const TscClock clock;
  engine::Endpoint& ep = *endpoint_;
  app::Workload& work = *workload_;
  TxBatch tx(port_.id(), queue_, port_.pool(), static_cast<uint16_t>(dpdk_.tx_burst), stats_.port);
  tx.capture = capture_;
  tx.impair = impair_tx_.get();
  tx.prepare = port_.caps().vlan_insert;
  const uint16_t rx_burst = static_cast<uint16_t>(std::min<uint32_t>(dpdk_.rx_burst, kRxBurstMax));
  rte_mbuf* rx[kRxRoom];

  Instant now = clock.now();
  work.start(ep, now);
  Instant next_publish = now;
  Instant next_states = now;
  Instant next_hook = now;
  Instant stop_deadline = Instant::never();
  // Under impairment closing takes longer: a connection whose handshake lost a frame may measure
  // an RTT of a whole retransmission timeout, and its next losses then back off by seconds.
  const Duration closing_grace = impair_rx_ || impair_tx_ ? grace * kImpairedGraceFactor : grace;
  bool stopping = false;
  Instant next_peer_check = now;
  bool peer_open = false;
  // A server asked to stop first lets the closes already under way finish: our FIN is out and its
  // ACK not yet in (FIN-WAIT-1, CLOSING, LAST-ACK). Its report then counts them closed, and a
  // script that stops it right after its client's report needs no pause. Connections still open
  // (ESTABLISHED, CLOSE-WAIT, FIN-WAIT-2) are the peers' to end and are not waited for. Counting
  // scans every connection slot, so it runs every few milliseconds, and only while stopping.
  bool closes_pending = false;
  Instant next_close_check = now;

  Instant last_loop = now;
  for (;;) {
    now = clock.now();
    tx.now_ns = now.ns();
    ++stats_.loops;
    const uint64_t gap = static_cast<uint64_t>((now - last_loop).ns());
    last_loop = now;
    if (LINETCP_UNLIKELY(gap >= control::WorkerStats::kStallNs)) {
      ++stats_.stalls;
      stats_.stall_ns += gap;
    }
    stats_.max_gap_ns = std::max(stats_.max_gap_ns, gap);
    work.set_time(now);

    uint16_t n = rte_eth_rx_burst(port_.id(), queue_, rx, rx_burst);
    for (uint16_t i = 0; i < n; ++i) stats_.port.rx_bytes += rx[i]->pkt_len;
    stats_.port.rx_packets += n;
    if (LINETCP_UNLIKELY(impair_rx_ != nullptr)) n = impair_rx(rx, n, now);
    if (steering_) {
      rte_mbuf* mine[kRxRoom];
      deliver(mine, steer(rx, n, mine), now);
      // Frames other workers received for us.
      for (uint32_t w = 0; w < steering_->workers(); ++w) {
        if (w == index_) continue;
        const unsigned got = rte_ring_dequeue_burst(steering_->ring(w, index_), reinterpret_cast<void**>(rx),
                                                    rx_burst, nullptr);
        stats_.port.handoff_in += got;
        n = static_cast<uint16_t>(n + got);
        deliver(rx, static_cast<uint16_t>(got), now);
      }
    } else {
      deliver(rx, n, now);
    }

    if (ep.next_deadline() <= now) ep.advance(now);
    if (work.next_deadline() <= now) work.poll(ep, now);
    while (ep.has_output()) {
      if (ep.poll_output(tx, now, 512) == 0) break;
    }
    tx.flush();

    if (now >= next_publish) {
      const bool states = now >= next_states;
      if (states) next_states = now + Duration::seconds(1);
      publish(states);
      next_publish = now + Duration::millis(50);
    }
    if (hook && now >= next_hook) {
      next_hook = now + Duration::millis(1);
      if (!hook() && !stopping) {
        stopping = true;
        work.stop(ep, now);
        stop_deadline = now + closing_grace;
      }
    }
    if (!stopping && stop.load(std::memory_order_relaxed)) {
      stopping = true;
      work.stop(ep, now);
      stop_deadline = now + closing_grace;
    }
    if (stopping && work.client() == nullptr && now >= next_close_check) {
      const std::array<uint32_t, 11> states = ep.state_histogram();
      const auto in = [&](tcp::State s) { return states[static_cast<std::size_t>(s)]; };
      closes_pending = in(tcp::State::kFinWait1) + in(tcp::State::kClosing) + in(tcp::State::kLastAck) != 0;
      next_close_check = now + Duration::millis(5);
    }
    // With impairment, closing takes longer: frames the stage holds are still on their way (the
    // last ACKs and FINs too), and a peer whose FIN's ACK was lost retransmits the FIN, which
    // only a TIME_WAIT record that is still polled answers. So the worker waits for both
    // (bounded by the grace period): no connection is left half-closed on the other side.
    const bool settling = (impair_tx_ && impair_tx_->held() > 0) || (impair_rx_ && impair_rx_->held() > 0) ||
                          ((impair_rx_ || impair_tx_) && ep.time_wait_count() > 0);
    const bool done = work.finished() && !ep.has_output() && !settling && !closes_pending;
    if (done && peer_busy && now >= next_peer_check) {
      peer_open = peer_busy();
      next_peer_check = now + Duration::millis(1);
    }
    if (stopping && ((done && !peer_open) || now >= stop_deadline)) break;
    if (n == 0) rte_pause();
  }
  // Frames the stage still holds go back to their pool (the port's leak check counts them).
  if (impair_rx_) impair_rx_->drain([](engine::Impairment::Frame f) { rte_pktmbuf_free(static_cast<rte_mbuf*>(f)); });
  if (!work.finished())
    spdlog::warn("worker {}: {} connection(s) still open after the {:.1f} s grace period", index_,
                 work.client() ? work.client()->active() : 0u, closing_grace.seconds_f());
  publish(true);
}

}  // namespace linetcp::dpdk
