// Branch hints and prefetch, so the hot paths can say what they expect.
#pragma once

#define LINETCP_LIKELY(x) __builtin_expect(!!(x), 1)
#define LINETCP_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace linetcp::base {

// Why inline assembly and not __builtin_prefetch: GCC treats the builtin as free of side effects,
// so a function that only computes an address and prefetches it (ConnIndex::prefetch,
// Endpoint::prefetch_input) is found "const" by its pure-const analysis, and every call to it
// whose result is unused, i.e. every call, is deleted as dead code. GCC 12 compiled
// Endpoint::prefetch_input to a bare `ret`. A volatile asm statement cannot be deleted. The
// address goes in a register, not as a memory operand: prefetching past the end of an array or
// through a null pointer is harmless and must not look like a dereference to the sanitizers.
#if defined(__x86_64__) || defined(__i386__)
inline void prefetch_read(const void* p) { asm volatile("prefetcht0 (%0)" : : "r"(p)); }
inline void prefetch_write(const void* p) {
#if defined(__PRFCHW__)
  asm volatile("prefetchw (%0)" : : "r"(p));
#else
  asm volatile("prefetcht0 (%0)" : : "r"(p));
#endif
}
#else
inline void prefetch_read(const void* p) {
  __builtin_prefetch(p, 0, 3);
  asm volatile("" : : "r"(p));  // keeps the enclosing function from being found const
}
inline void prefetch_write(const void* p) {
  __builtin_prefetch(p, 1, 3);
  asm volatile("" : : "r"(p));
}
#endif

}  // namespace linetcp::base
