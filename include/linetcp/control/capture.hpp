// `--capture FILE`: the first frames of a run, received and sent, kept in memory reserved at
// start (no allocation on the data path) and written as a pcap file at exit, for users who want
// a trace without running dpdk-dumpcap beside linetcp. One Capture per worker (single writer).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace linetcp::control {

class Capture {
 public:
  Capture(uint32_t max_frames, uint32_t snap_len);
  // Keeps the frame if there is room; a branch and a copy, nothing else.
  void record(std::span<const uint8_t> frame, uint64_t time_ns) {
    if (count_ == max_frames_) return;
    const uint32_t n = frame.size() < snap_len_ ? static_cast<uint32_t>(frame.size()) : snap_len_;
    Record& r = records_[count_++];
    r.time_ns = time_ns;
    r.orig_len = static_cast<uint32_t>(frame.size());
    r.caplen = n;
    __builtin_memcpy(data_.data() + std::size_t{count_ - 1} * snap_len_, frame.data(), n);
  }
  uint32_t count() const { return count_; }
  bool full() const { return count_ == max_frames_; }

  // Writes the frames of all captures, merged in time order, as one pcap file (microsecond
  // timestamps from `epoch_ns` + each frame's time). Throws std::runtime_error if it cannot.
  static void write_pcap(const std::string& path, const std::vector<const Capture*>& captures, uint64_t epoch_ns);

 private:
  struct Record {
    uint64_t time_ns;
    uint32_t orig_len;
    uint32_t caplen;
  };
  uint32_t max_frames_;
  uint32_t snap_len_;
  uint32_t count_ = 0;
  std::vector<Record> records_;
  std::vector<uint8_t> data_;
};

}  // namespace linetcp::control
