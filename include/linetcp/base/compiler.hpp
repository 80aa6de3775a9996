// Branch hints and prefetch, so the hot paths can say what they expect.
#pragma once

#define LINETCP_LIKELY(x) __builtin_expect(!!(x), 1)
#define LINETCP_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace linetcp::base {

inline void prefetch_read(const void* p) { __builtin_prefetch(p, 0, 3); }
inline void prefetch_write(const void* p) { __builtin_prefetch(p, 1, 3); }

}  // namespace linetcp::base
