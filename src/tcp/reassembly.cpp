// Out-of-order segment store: chunk pool and the per-connection sorted chunk list.
#include "linetcp/tcp/reassembly.hpp"

#include <algorithm>
#include <cstring>

namespace linetcp::tcp {

ChunkPool::ChunkPool(uint32_t chunks)
    : chunks_(std::make_unique_for_overwrite<Chunk[]>(chunks)), capacity_(chunks), free_head_(kNone), free_count_(0) {
  for (uint32_t i = chunks; i-- > 0;) free(i);
}

uint32_t ChunkPool::alloc() {
  if (free_head_ == kNone) return kNone;
  const uint32_t idx = free_head_;
  free_head_ = chunks_[idx].next;
  chunks_[idx].next = kNone;
  --free_count_;
  return idx;
}

void ChunkPool::free(uint32_t idx) {
  chunks_[idx].next = free_head_;
  free_head_ = idx;
  ++free_count_;
}

void Reassembly::pop_head(ChunkPool& pool) {
  const uint32_t idx = head_;
  head_ = pool[idx].next;
  pool.free(idx);
  --count_;
}

Reassembly::Insert Reassembly::insert(ChunkPool& pool, SeqNum seq, std::span<const uint8_t> data,
                                      uint16_t limit_chunks) {
  bool stored_any = false;
  // Walk the sorted list once; each gap between held chunks that overlaps the new data is
  // filled with new chunks (so held bytes are never rewritten: the first copy wins).
  uint32_t* link = &head_;
  SeqNum pos = seq;
  const SeqNum end = seq + static_cast<uint32_t>(data.size());
  while (pos < end) {
    // Skip chunks that end at or before pos.
    while (*link != ChunkPool::kNone && pool[*link].seq + pool[*link].len <= pos) link = &pool[*link].next;
    SeqNum gap_end = end;
    if (*link != ChunkPool::kNone) {
      const ChunkPool::Chunk& next = pool[*link];
      if (next.seq <= pos) {  // pos lies inside a held chunk: jump past it
        pos = next.seq + next.len;
        continue;
      }
      gap_end = seq_min(end, next.seq);
    }
    while (pos < gap_end) {
      if (count_ >= limit_chunks) return stored_any ? Insert::kStored : Insert::kNoBuffer;
      const uint32_t idx = pool.alloc();
      if (idx == ChunkPool::kNone) return stored_any ? Insert::kStored : Insert::kNoBuffer;
      ChunkPool::Chunk& c = pool[idx];
      const uint32_t n = std::min<uint32_t>(static_cast<uint32_t>(gap_end - pos), ChunkPool::kChunkBytes);
      std::memcpy(c.data, data.data() + static_cast<uint32_t>(pos - seq), n);
      c.seq = pos;
      c.len = static_cast<uint16_t>(n);
      c.next = *link;
      *link = idx;
      link = &c.next;
      ++count_;
      pos = pos + n;
      stored_any = true;
    }
  }
  return stored_any ? Insert::kStored : Insert::kDuplicate;
}

uint8_t Reassembly::sack_blocks(const ChunkPool& pool, SeqNum most_recent, wire::SackBlock* out,
                                uint8_t max) const {
  if (max == 0) return 0;
  // Merge adjacent chunks into ranges; put the range holding most_recent first.
  wire::SackBlock ranges[64];
  uint8_t n = 0;
  int first = -1;
  for (uint32_t i = head_; i != ChunkPool::kNone; i = pool[i].next) {
    const ChunkPool::Chunk& c = pool[i];
    if (n > 0 && SeqNum(ranges[n - 1].right) == c.seq) {
      ranges[n - 1].right = (c.seq + c.len).raw();
    } else {
      if (n == 64) break;
      ranges[n++] = {c.seq.raw(), (c.seq + c.len).raw()};
    }
    if (seq_in(most_recent, c.seq, c.seq + c.len)) first = n - 1;
  }
  uint8_t out_n = 0;
  if (first >= 0) out[out_n++] = ranges[first];
  for (uint8_t i = 0; i < n && out_n < max; ++i)
    if (static_cast<int>(i) != first) out[out_n++] = ranges[i];
  return out_n;
}

SeqNum Reassembly::highest(const ChunkPool& pool) const {
  SeqNum h;
  for (uint32_t i = head_; i != ChunkPool::kNone; i = pool[i].next) h = pool[i].seq + pool[i].len;
  return h;
}

uint32_t Reassembly::bytes(const ChunkPool& pool) const {
  uint32_t total = 0;
  for (uint32_t i = head_; i != ChunkPool::kNone; i = pool[i].next) total += pool[i].len;
  return total;
}

void Reassembly::clear(ChunkPool& pool) {
  while (head_ != ChunkPool::kNone) pop_head(pool);
}

}  // namespace linetcp::tcp
