// pcap output of --capture (classic libpcap format, Ethernet link type).
#include "linetcp/control/capture.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace linetcp::control {

Capture::Capture(uint32_t max_frames, uint32_t snap_len)
    : max_frames_(max_frames), snap_len_(snap_len), records_(max_frames), data_(std::size_t{max_frames} * snap_len) {}

void Capture::write_pcap(const std::string& path, const std::vector<const Capture*>& captures, uint64_t epoch_ns) {
  struct Ref {
    const Capture* c;
    uint32_t i;
  };
  std::vector<Ref> all;
  for (const Capture* c : captures)
    for (uint32_t i = 0; i < c->count_; ++i) all.push_back({c, i});
  std::stable_sort(all.begin(), all.end(), [](const Ref& a, const Ref& b) {
    return a.c->records_[a.i].time_ns < b.c->records_[b.i].time_ns;
  });
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("--capture: cannot write " + path);
  auto put32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto put16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  // Global header: magic, version 2.4, GMT offset, accuracy, snap length, LINKTYPE_ETHERNET.
  put32(0xa1b2c3d4);
  put16(2);
  put16(4);
  put32(0);
  put32(0);
  uint32_t snap = 0;
  for (const Capture* c : captures) snap = std::max(snap, c->snap_len_);
  put32(snap);
  put32(1);
  for (const Ref& r : all) {
    const Record& rec = r.c->records_[r.i];
    const uint64_t t = epoch_ns + rec.time_ns;
    put32(static_cast<uint32_t>(t / 1'000'000'000));
    put32(static_cast<uint32_t>(t % 1'000'000'000 / 1000));
    put32(rec.caplen);
    put32(rec.orig_len);
    out.write(reinterpret_cast<const char*>(r.c->data_.data() + std::size_t{r.i} * r.c->snap_len_), rec.caplen);
  }
  if (!out) throw std::runtime_error("--capture: cannot write " + path);
}

}  // namespace linetcp::control
