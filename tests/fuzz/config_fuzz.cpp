// libFuzzer harness for control::parse_config: any text, both roles. A ConfigError is the
// expected answer to bad input; any other exception, a crash or a sanitizer report is a bug.
// Valid configurations must also survive to_toml() -> parse_config() unchanged.
// Input: TOML text, optionally followed by a line "%%" and `--set` overrides, one per line.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "linetcp/control/config.hpp"

namespace {
using linetcp::control::ConfigError;
using linetcp::control::Role;

void one(std::string_view text, const std::vector<std::string>& overrides, Role role) {
  linetcp::control::Config config;
  try {
    config = linetcp::control::parse_config(text, "fuzz", overrides, role);
  } catch (const ConfigError&) {
    return;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "config_fuzz: %s: not a ConfigError: %s\n", std::string(to_string(role)).c_str(), e.what());
    std::abort();
  }
  // A configuration that loaded prints and loads back to the same thing.
  const nlohmann::json before = linetcp::control::to_json(config);
  const std::string toml = linetcp::control::to_toml(config);
  try {
    const auto again = linetcp::control::parse_config(toml, "fuzz-roundtrip", {}, role);
    if (linetcp::control::to_json(again) != before) {
      std::fprintf(stderr, "config_fuzz: round trip changed the configuration\n%s\n---\n%s\n",
                   before.dump().c_str(), linetcp::control::to_json(again).dump().c_str());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "config_fuzz: to_toml() output does not load back: %s\n%s\n", e.what(), toml.c_str());
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> overrides;
  if (const auto mark = text.find("\n%%\n"); mark != std::string_view::npos) {
    std::string_view rest = text.substr(mark + 4);
    text = text.substr(0, mark + 1);
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      overrides.emplace_back(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
  }
  one(text, overrides, Role::kServer);
  one(text, overrides, Role::kClient);
  return 0;
}
