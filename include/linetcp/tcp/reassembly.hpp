// Out-of-order receive data (RFC 9293 §3.10.7.4, "segment text"): kept in fixed-size chunks
// from one per-worker pool, linked per connection in sequence order, so an idle connection
// pays four bytes for it. The same list yields the SACK blocks we send (RFC 2018).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "linetcp/tcp/seq_num.hpp"
#include "linetcp/wire/tcp_options.hpp"

namespace linetcp::tcp {

class ChunkPool {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kChunkBytes = 2048;

  explicit ChunkPool(uint32_t chunks);
  uint32_t alloc();  // kNone when exhausted
  void free(uint32_t idx);
  uint32_t available() const { return free_count_; }
  uint32_t capacity() const { return capacity_; }

  struct Chunk {
    uint32_t next = kNone;
    SeqNum seq;        // sequence number of data[0]
    uint16_t len = 0;  // valid bytes
    uint8_t data[kChunkBytes];
  };
  Chunk& operator[](uint32_t idx) { return chunks_[idx]; }
  const Chunk& operator[](uint32_t idx) const { return chunks_[idx]; }

 private:
  std::unique_ptr<Chunk[]> chunks_;
  uint32_t capacity_;
  uint32_t free_head_;
  uint32_t free_count_;
};

class Reassembly {
 public:
  enum class Insert : uint8_t { kStored, kDuplicate, kNoBuffer };

  // Keeps the bytes of [seq, seq + data.size()) that are not already held. `limit_chunks` bounds
  // what one connection may hold.
  Insert insert(ChunkPool& pool, SeqNum seq, std::span<const uint8_t> data, uint16_t limit_chunks);

  // Hands every held byte at or after `rcv_nxt` that is now in order to `deliver(span)`, drops
  // what lies before it, and returns the new rcv_nxt.
  template <typename Deliver>
  SeqNum drain(ChunkPool& pool, SeqNum rcv_nxt, Deliver&& deliver) {
    while (head_ != ChunkPool::kNone) {
      ChunkPool::Chunk& c = pool[head_];
      const SeqNum end = c.seq + c.len;
      if (c.seq > rcv_nxt) break;
      if (end > rcv_nxt) {
        const uint32_t skip = static_cast<uint32_t>(rcv_nxt - c.seq);
        deliver(std::span<const uint8_t>(c.data + skip, c.len - skip));
        rcv_nxt = end;
      }
      pop_head(pool);
    }
    return rcv_nxt;
  }

  // Up to `max` SACK blocks: merged ranges, the one holding `most_recent` first (RFC 2018 §4).
  uint8_t sack_blocks(const ChunkPool& pool, SeqNum most_recent, wire::SackBlock* out, uint8_t max) const;
  // Sequence number just past the highest byte held (valid when !empty()).
  SeqNum highest(const ChunkPool& pool) const;
  void clear(ChunkPool& pool);
  bool empty() const { return head_ == ChunkPool::kNone; }
  uint16_t chunks() const { return count_; }
  uint32_t bytes(const ChunkPool& pool) const;

 private:
  void pop_head(ChunkPool& pool);

  uint32_t head_ = ChunkPool::kNone;
  uint16_t count_ = 0;
};

}  // namespace linetcp::tcp
