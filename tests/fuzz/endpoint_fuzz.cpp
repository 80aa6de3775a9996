// libFuzzer harness for engine::Endpoint: arbitrary frames and application calls, on a virtual
// clock, against a server with listeners and open connections and a live client peer. The input
// format and the invariants are in endpoint_world.hpp. Run: scripts/fuzz (or the 'fuzz' suite).
#include <cstddef>
#include <cstdint>

#include "endpoint_world.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  linetcp::fuzz::World world;
  world.run(data, size);
  return 0;
}
