// Loads and validates the TOML configuration: parse, apply `--set` overrides, reject unknown
// keys (with a suggestion), then read every section with type and range checks.
#include "linetcp/control/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

namespace linetcp::control {

namespace {

constexpr int64_t kKi = 1024;
constexpr int64_t kMi = 1024 * kKi;
constexpr int64_t kGi = 1024 * kMi;

// ---------------------------------------------------------------------------------------------
// The schema: every key the file may hold. Tables are listed too (they are keys of their parent).

const std::vector<std::string_view> kKnownKeys = {
    "dpdk", "dpdk.eal", "dpdk.mbufs", "dpdk.mbuf_cache", "dpdk.mbuf_data_room", "dpdk.workers",
    "dpdk.rx_burst", "dpdk.tx_burst",
    "port", "port.device", "port.rx_descriptors", "port.tx_descriptors", "port.mtu",
    "port.promiscuous", "port.mac", "port.checksum_offload", "port.vlan",
    "port.impairment", "port.impairment.seed", "port.impairment.queue", "port.impairment.blackout_after_s",
    "port.impairment.rx", "port.impairment.rx.drop", "port.impairment.rx.duplicate", "port.impairment.rx.reorder",
    "port.impairment.rx.reorder_delay_us", "port.impairment.rx.corrupt", "port.impairment.rx.delay_us",
    "port.impairment.rx.jitter_us",
    "port.impairment.tx", "port.impairment.tx.drop", "port.impairment.tx.duplicate", "port.impairment.tx.reorder",
    "port.impairment.tx.reorder_delay_us", "port.impairment.tx.corrupt", "port.impairment.tx.delay_us",
    "port.impairment.tx.jitter_us",
    "network", "network.address", "network.gateway", "network.arp_timeout_s",
    "network.addresses", "network.ipv6", "network.gateway6", "network.gateway_mac", "network.gateway6_mac",
    "network.routes",
    "tcp", "tcp.mss", "tcp.msl_s", "tcp.rto_min_ms", "tcp.rto_initial_ms", "tcp.rto_max_ms",
    "tcp.r1_retries", "tcp.r2_s", "tcp.r2_syn_s", "tcp.delayed_ack_ms", "tcp.nagle",
    "tcp.keepalive", "tcp.keepalive_idle_s", "tcp.keepalive_interval_s", "tcp.keepalive_probes",
    "tcp.congestion", "tcp.initial_window_segments", "tcp.window_scale", "tcp.timestamps",
    "tcp.sack", "tcp.rcv_buffer", "tcp.max_connections", "tcp.full_state_connections", "tcp.syn_backlog", "tcp.syn_cookies",
    "tcp.time_wait_capacity",
    "server", "server.close_first",
    "server.http", "server.http.port", "server.http.body", "server.http.body_size",
    "server.http.keepalive", "server.http.status", "server.http.content_type",
    "server.echo", "server.echo.port", "server.discard", "server.discard.port",
    "client", "client.protocol", "client.target", "client.targets", "client.source_ports", "client.source_addresses",
    "client.connections_per_second", "client.ramp_up_s", "client.concurrency",
    "client.requests_per_connection", "client.request_rate", "client.request_size",
    "client.http_path", "client.http_host", "client.response_size", "client.think_time_ms",
    "client.close", "client.duration_s",
    "status", "status.interval_s",
    "log", "log.level",
};

const std::vector<std::string_view> kTableKeys = {
    "dpdk", "port", "port.impairment", "port.impairment.rx", "port.impairment.tx", "network", "tcp", "server", "server.http", "server.echo", "server.discard",
    "client", "status", "log",
};

bool is_known(std::string_view key) {
  return std::find(kKnownKeys.begin(), kKnownKeys.end(), key) != kKnownKeys.end();
}
bool is_table_key(std::string_view key) {
  return std::find(kTableKeys.begin(), kTableKeys.end(), key) != kTableKeys.end();
}

std::string_view parent_of(std::string_view key) {
  auto dot = key.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : key.substr(0, dot);
}
std::string_view leaf_of(std::string_view key) {
  auto dot = key.rfind('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), case-insensitive.
size_t edit_distance(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  const size_t n = a.size();
  const size_t m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

size_t close_enough(std::string_view s) {
  return std::clamp<size_t>(s.size() / 3, 1, 3);
}

// The known key an unknown one most likely meant, or "" when none is close.
std::string suggest(std::string_view unknown) {
  const std::string_view parent = parent_of(unknown);
  const std::string_view leaf = leaf_of(unknown);
  // 1. A near miss in the same table.
  std::string_view best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (std::string_view k : kKnownKeys) {
    if (parent_of(k) != parent) continue;
    const size_t d = edit_distance(leaf, leaf_of(k));
    if (d < best_d) { best_d = d; best = k; }
  }
  if (best_d <= close_enough(leaf)) return std::string(best);
  // 2. The same name in another table ("network.mtu" -> "port.mtu", "server.port" ->
  // "server.http.port"): a value key, never from [client] for a key in [server] or the other
  // way round, tables below the unknown key's own table first.
  const std::string_view top = unknown.substr(0, unknown.find('.'));
  const std::string below = std::string(parent) + ".";
  std::string_view same_name;
  for (std::string_view k : kKnownKeys) {
    if (is_table_key(k) || edit_distance(leaf, leaf_of(k)) != 0) continue;
    const std::string_view k_top = k.substr(0, k.find('.'));
    const bool role_tables = (k_top == "server" || k_top == "client") && (top == "server" || top == "client");
    if (role_tables && k_top != top) continue;
    if (!parent.empty() && k.starts_with(below)) return std::string(k);
    if (same_name.empty()) same_name = k;
  }
  if (!same_name.empty()) return std::string(same_name);
  // 3. A near miss anywhere.
  best_d = std::numeric_limits<size_t>::max();
  for (std::string_view k : kKnownKeys) {
    const size_t d = edit_distance(unknown, k);
    if (d < best_d) { best_d = d; best = k; }
  }
  if (best_d <= close_enough(leaf)) return std::string(best);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Text helpers.

std::string format_double(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, ec == std::errc{} ? end : buf);
  if (s.find_first_of(".eEni") == std::string::npos) s += ".0";
  return s;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

// What a value is, for "got ..." in messages.
std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return quote(node.as_string()->get());
    case toml::node_type::integer: return std::to_string(node.as_integer()->get());
    case toml::node_type::floating_point: return format_double(node.as_floating_point()->get());
    case toml::node_type::boolean: return node.as_boolean()->get() ? "true" : "false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

std::string one_line(std::string_view s) {
  std::string out(s);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool has_control_or_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

// A decimal number without sign or leading zeros ("0" itself is fine), at most max_digits long.
std::optional<uint32_t> parse_decimal(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Tiny address parsers (the wire layer has the real ones; control stays independent of it).

std::optional<uint32_t> parse_ipv4(std::string_view s) {
  uint32_t addr = 0;
  for (int i = 0; i < 4; ++i) {
    const auto dot = s.find('.');
    const std::string_view part = i < 3 ? s.substr(0, dot) : s;
    if (i < 3 && dot == std::string_view::npos) return std::nullopt;
    const auto octet = parse_decimal(part, 3);
    if (!octet || *octet > 255) return std::nullopt;
    addr = (addr << 8) | *octet;
    if (i < 3) s.remove_prefix(dot + 1);
  }
  return addr;
}

std::optional<std::pair<uint32_t, uint8_t>> parse_ipv4_prefix(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto addr = parse_ipv4(s.substr(0, slash));
  const auto len = parse_decimal(s.substr(slash + 1), 2);
  if (!addr || !len || *len > 32) return std::nullopt;
  return std::pair{*addr, static_cast<uint8_t>(*len)};
}

std::optional<std::array<uint8_t, 6>> parse_mac(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  std::array<uint8_t, 6> mac{};
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && s[i * 3 - 1] != ':') return std::nullopt;
    uint8_t v = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i * 3 + j])));
      if (c >= '0' && c <= '9') v = static_cast<uint8_t>(v * 16 + (c - '0'));
      else if (c >= 'a' && c <= 'f') v = static_cast<uint8_t>(v * 16 + (c - 'a' + 10));
      else return std::nullopt;
    }
    mac[i] = v;
  }
  return mac;
}

// Local IPv6 addresses (network.ipv6, ranges expanded) at most: each gets its own source-port
// table in every worker (6 bytes a port, 300 kB for 50,000 ports), as client.source_addresses.
constexpr std::size_t kMaxIpv6Addresses = 256;

// How many addresses first..last holds (first <= last), or nullopt when more than `limit`.
std::optional<uint64_t> ipv6_range_size(const wire::Ipv6Addr& first, const wire::Ipv6Addr& last, uint64_t limit) {
  auto be64 = [](const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
  };
  const uint64_t hf = be64(first.bytes.data()), lf = be64(first.bytes.data() + 8);
  const uint64_t hl = be64(last.bytes.data()), ll = be64(last.bytes.data() + 8);
  // The difference fits 64 bits only with equal high halves, or adjacent ones and a wrap below.
  if (hl - hf > 1 || (hl != hf && ll >= lf)) return std::nullopt;
  const uint64_t d = ll - lf;
  if (d >= limit) return std::nullopt;
  return d + 1;
}

wire::Ipv6Addr ipv6_next(wire::Ipv6Addr a) {
  for (int i = 15; i >= 0 && ++a.bytes[static_cast<std::size_t>(i)] == 0; --i) {
  }
  return a;
}

bool is_unicast_ipv6(const wire::Ipv6Addr& a) {
  return !a.is_multicast() && !a.is_unspecified() && !a.is_loopback() && !a.is_v4_mapped();
}

std::string ipv4_to_string(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." +
         std::to_string((a >> 8) & 0xff) + "." + std::to_string(a & 0xff);
}

// Unusable as a unicast host address anywhere: 0/8, loopback, multicast, reserved, broadcast.
bool is_special_ipv4(uint32_t a) {
  const uint32_t first = a >> 24;
  return first == 0 || first == 127 || first >= 224;
}

// ---------------------------------------------------------------------------------------------
// Validation context and the section reader.

struct Override {
  std::string key;   // dotted
  std::string text;  // as given: "tcp.mss=1400"
};

class Context {
 public:
  explicit Context(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }
  void add_override(std::string key, std::string text) {
    overrides_.push_back({std::move(key), std::move(text)});
  }

  [[noreturn]] void fail(std::string_view key, std::string_view reason) const {
    std::string msg = source_ + ": " + std::string(key) + ": " + std::string(reason);
    // The last override that set this key, a table around it, or a key inside it.
    for (auto it = overrides_.rbegin(); it != overrides_.rend(); ++it) {
      const std::string& k = it->key;
      // The override set a key inside the failing table, or the failing key lies inside (or is
      // an element of) the value the override set.
      const bool inside = k.size() > key.size() && k.compare(0, key.size(), key) == 0 && k[key.size()] == '.';
      const bool around = key.size() > k.size() && key.compare(0, k.size(), k) == 0 &&
                          (key[k.size()] == '.' || key[k.size()] == '[');
      if (k == key || inside || around) {
        msg += " (from --set " + it->text + ")";
        break;
      }
    }
    throw ConfigError(one_line(msg));
  }

  [[noreturn]] void fail_override(std::string_view text, std::string_view reason) const {
    throw ConfigError(one_line(source_ + ": --set " + std::string(text) + ": " + std::string(reason)));
  }

 private:
  std::string source_;
  std::vector<Override> overrides_;
};

class Section {
 public:
  Section(const Context& ctx, const toml::table* table, std::string path)
      : ctx_(ctx), table_(table), path_(std::move(path)) {}

  bool present() const { return table_ != nullptr; }
  const std::string& path() const { return path_; }

  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  [[noreturn]] void fail(std::string_view key, std::string_view reason) const {
    ctx_.fail(key_path(key), reason);
  }
  // An error about this table as a whole.
  [[noreturn]] void fail_self(std::string_view reason) const { ctx_.fail(path_, reason); }

  const toml::node* get(std::string_view key) const {
    return table_ == nullptr ? nullptr : table_->get(key);
  }

  bool has(std::string_view key) const { return get(key) != nullptr; }

  // An integer in [min, max]; T is the type of the default.
  template <class T>
  T integer(std::string_view key, T def, int64_t min, int64_t max) const {
    const toml::node* node = get(key);
    if (node == nullptr) return def;
    return static_cast<T>(integer_value(key, *node, min, max));
  }

  std::optional<int64_t> optional_integer(std::string_view key, int64_t min, int64_t max) const {
    const toml::node* node = get(key);
    if (node == nullptr) return std::nullopt;
    return integer_value(key, *node, min, max);
  }

  // A number (integer or float) in [min, max].
  double number(std::string_view key, double def, double min, double max) const {
    const toml::node* node = get(key);
    if (node == nullptr) return def;
    double v = 0;
    if (node->is_integer()) v = static_cast<double>(node->as_integer()->get());
    else if (node->is_floating_point()) v = node->as_floating_point()->get();
    else range_error_number(key, *node, min, max);
    if (!(v >= min && v <= max)) range_error_number(key, *node, min, max);
    return v;
  }

  bool boolean(std::string_view key, bool def) const {
    const toml::node* node = get(key);
    if (node == nullptr) return def;
    if (!node->is_boolean()) fail(key, "must be true or false, got " + describe(*node));
    return node->as_boolean()->get();
  }

  std::string string(std::string_view key, std::string def) const {
    const toml::node* node = get(key);
    if (node == nullptr) return def;
    if (!node->is_string()) fail(key, "must be a string, got " + describe(*node));
    return node->as_string()->get();
  }

  std::string required_string(std::string_view key) const {
    if (get(key) == nullptr) fail(key, "missing required key");
    std::string s = string(key, {});
    if (s.empty()) fail(key, "must not be empty");
    return s;
  }

  template <class E>
  E choice(std::string_view key, E def, std::initializer_list<std::pair<std::string_view, E>> options,
           bool required = false) const {
    const toml::node* node = get(key);
    if (node == nullptr) {
      if (required) fail(key, "missing required key");
      return def;
    }
    if (node->is_string()) {
      for (const auto& [name, value] : options) {
        if (node->as_string()->get() == name) return value;
      }
    }
    std::string names;
    for (const auto& [name, value] : options) {
      if (!names.empty()) names += ", ";
      names += quote(name);
    }
    fail(key, "must be one of " + names + ", got " + describe(*node));
  }

  std::vector<std::string> strings(std::string_view key) const {
    const toml::node* node = get(key);
    if (node == nullptr) return {};
    if (!node->is_array()) fail(key, "must be an array of strings, got " + describe(*node));
    std::vector<std::string> out;
    size_t i = 0;
    for (const toml::node& item : *node->as_array()) {
      if (!item.is_string()) {
        ctx_.fail(key_path(key) + "[" + std::to_string(i) + "]", "must be a string, got " + describe(item));
      }
      out.push_back(item.as_string()->get());
      ++i;
    }
    return out;
  }

  // A sub-table; absent gives a Section that is not present() and yields defaults.
  Section table(std::string_view key) const {
    const toml::node* node = get(key);
    if (node != nullptr && !node->is_table()) fail(key, "must be a table, got " + describe(*node));
    return Section(ctx_, node == nullptr ? nullptr : node->as_table(), key_path(key));
  }

 private:
  int64_t integer_value(std::string_view key, const toml::node& node, int64_t min, int64_t max) const {
    if (!node.is_integer()) range_error_integer(key, node, min, max);
    const int64_t v = node.as_integer()->get();
    if (v < min || v > max) range_error_integer(key, node, min, max);
    return v;
  }

  [[noreturn]] void range_error_integer(std::string_view key, const toml::node& node, int64_t min,
                                        int64_t max) const {
    fail(key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", got " + describe(node));
  }

  [[noreturn]] void range_error_number(std::string_view key, const toml::node& node, double min,
                                       double max) const {
    auto fmt = [](double d) {
      std::string s = format_double(d);
      if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
      return s;
    };
    fail(key, "must be a number from " + fmt(min) + " to " + fmt(max) + ", got " + describe(node));
  }

  const Context& ctx_;
  const toml::table* table_;
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// Parsing, overrides, unknown keys.

toml::table parse_toml(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    throw ConfigError(one_line(source + ":" + std::to_string(begin.line) + ":" +
                               std::to_string(begin.column) + ": TOML syntax error: " +
                               std::string(e.description())));
  }
}

bool is_bare_key(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// UTF-8 as RFC 3629 has it (no overlong forms, surrogates or code points past U+10FFFF): what
// TOML requires of every string, and what the JSON report can print.
bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xe0) == 0xc0) {
      n = 1, cp = b & 0x1fu;
    } else if ((b & 0xf0) == 0xe0) {
      n = 2, cp = b & 0x0fu;
    } else if ((b & 0xf8) == 0xf0) {
      n = 3, cp = b & 0x07u;
    } else {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = cp << 6 | (c & 0x3fu);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// "section.key=value": the value as a TOML value when it parses as one, else as a plain string.
void apply_override(toml::table& root, const std::string& text, Context& ctx) {
  const auto eq = text.find('=');
  if (eq == std::string::npos) ctx.fail_override(text, "expected section.key=value");
  const std::string_view key = trim(std::string_view(text).substr(0, eq));
  const std::string_view value = trim(std::string_view(text).substr(eq + 1));

  std::vector<std::string_view> parts;
  for (std::string_view rest = key;;) {
    const auto dot = rest.find('.');
    parts.push_back(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  for (std::string_view p : parts) {
    if (!is_bare_key(p)) {
      ctx.fail_override(text, "the key must be dotted names of letters, digits, '_' and '-' (like tcp.mss)");
    }
  }

  std::optional<toml::table> parsed;
  try {
    toml::table t = toml::parse("v = " + std::string(value) + "\n");
    if (t.size() == 1 && t.contains("v")) parsed = std::move(t);
  } catch (const toml::parse_error&) {
  }

  toml::table* table = &root;
  std::string walked;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!walked.empty()) walked += '.';
    walked += parts[i];
    toml::node* node = table->get(parts[i]);
    if (node == nullptr) {
      table = table->insert(parts[i], toml::table{}).first->second.as_table();
    } else if (node->is_table()) {
      table = node->as_table();
    } else {
      ctx.fail_override(text, "'" + walked + "' is not a table, it is " + describe(*node));
    }
  }
  if (parsed) {
    table->insert_or_assign(parts.back(), std::move(*parsed->get("v")));
  } else {
    // A TOML file is UTF-8 by definition (toml++ refuses anything else); a value from the
    // command line must be too, or it would reach the report as bytes no JSON can carry.
    if (!is_valid_utf8(value)) ctx.fail_override(std::string(key) + "=...", "the value is not valid UTF-8");
    table->insert_or_assign(parts.back(), std::string(value));
  }
  ctx.add_override(std::string(key), text);
}

void check_unknown_keys(const toml::table& table, const std::string& prefix, const Context& ctx) {
  for (const auto& [k, node] : table) {
    const std::string_view name = k.str();
    const std::string path = prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
    if (!is_bare_key(name)) {
      // A quoted key like "tcp.mss" = 1 is one key with a dot in its name, never tcp.mss.
      ctx.fail(prefix.empty() ? quote(name) : prefix + "." + quote(name), "unknown key");
    }
    if (!is_known(path)) {
      const std::string hint = suggest(path);
      ctx.fail(path, hint.empty() ? std::string("unknown key") : "unknown key (did you mean '" + hint + "'?)");
    }
    if (is_table_key(path) && node.is_table()) check_unknown_keys(*node.as_table(), path, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// The sections.

DpdkConfig read_dpdk(const Section& s) {
  DpdkConfig c;
  c.eal = s.strings("eal");
  c.mbufs = s.integer("mbufs", c.mbufs, 1023, 16 * kMi);
  c.mbuf_cache = s.integer("mbuf_cache", c.mbuf_cache, 0, 512);
  c.mbuf_data_room = s.integer("mbuf_data_room", c.mbuf_data_room, 1024, 65535);
  c.workers = s.integer("workers", c.workers, 1, 128);
  c.rx_burst = s.integer("rx_burst", c.rx_burst, 1, 512);
  c.tx_burst = s.integer("tx_burst", c.tx_burst, 1, 512);
  return c;
}

// [port.impairment.rx] / [port.impairment.tx]: one direction's faults.
engine::ImpairmentProfile read_impairment_profile(const Section& s) {
  engine::ImpairmentProfile p;
  p.drop = s.number("drop", p.drop, 0, 1);
  p.duplicate = s.number("duplicate", p.duplicate, 0, 1);
  p.reorder = s.number("reorder", p.reorder, 0, 1);
  p.corrupt = s.number("corrupt", p.corrupt, 0, 1);
  p.delay_us = s.integer("delay_us", p.delay_us, 0, 10'000'000);
  p.jitter_us = s.integer("jitter_us", p.jitter_us, 0, 10'000'000);
  p.reorder_delay_us = s.integer("reorder_delay_us", p.reorder_delay_us, 1, 10'000'000);
  return p;
}

// [port.impairment]: the port's impairment stage (off unless a probability or delay is set).
engine::ImpairmentConfig read_impairment(const Section& s) {
  engine::ImpairmentConfig c;
  c.seed = s.integer("seed", c.seed, 0, std::numeric_limits<int64_t>::max());
  c.queue = s.integer("queue", c.queue, 16, 65536);
  c.rx = read_impairment_profile(s.table("rx"));
  c.tx = read_impairment_profile(s.table("tx"));
  const double blackout = s.number("blackout_after_s", 0, 0, 86400);
  if (blackout > 0) c.rx.blackout = c.tx.blackout = base::Instant::from_ns(static_cast<uint64_t>(blackout * 1e9));
  return c;
}

PortConfig read_port(const Section& s) {
  PortConfig c;
  c.device = s.required_string("device");
  c.rx_descriptors = s.integer("rx_descriptors", c.rx_descriptors, 64, 16384);
  c.tx_descriptors = s.integer("tx_descriptors", c.tx_descriptors, 64, 16384);
  c.mtu = s.integer("mtu", c.mtu, 576, 9000);
  c.promiscuous = s.boolean("promiscuous", c.promiscuous);
  c.mac = s.string("mac", c.mac);
  if (!c.mac.empty()) {
    c.mac_addr = parse_mac(c.mac);
    if (!c.mac_addr) s.fail("mac", "not a MAC address (like 02:00:00:00:00:01): " + quote(c.mac));
    if (((*c.mac_addr)[0] & 1) != 0) s.fail("mac", "a multicast MAC cannot be our address: " + quote(c.mac));
    if (*c.mac_addr == std::array<uint8_t, 6>{}) s.fail("mac", "the zero MAC cannot be our address");
  }
  c.checksum_offload = s.boolean("checksum_offload", c.checksum_offload);
  c.vlan = s.integer("vlan", c.vlan, 0, 4094);
  c.impairment = read_impairment(s.table("impairment"));
  return c;
}

// IPv6 addresses, the IPv6 gateway, static gateway MACs and routes of [network].
void read_network6(const Section& s, NetworkConfig& c) {
  c.addresses = s.strings("addresses");
  for (std::size_t i = 0; i < c.addresses.size(); ++i) {
    const std::string key = "addresses[" + std::to_string(i) + "]";
    const auto p = parse_ipv4_prefix(c.addresses[i]);
    if (!p || p->second == 0)
      s.fail(key, "not an IPv4 address with prefix (like 10.2.0.2/24): " + quote(c.addresses[i]));
    const uint32_t mask = p->second >= 32 ? ~0u : ~(~0u >> p->second);
    if (is_special_ipv4(p->first) || (p->second <= 30 && ((p->first & ~mask) == 0 || (p->first & ~mask) == ~mask)))
      s.fail(key, "not a unicast host address: " + quote(c.addresses[i]));
    if (p->first == c.address_ip) s.fail(key, "is network.address itself: " + quote(c.addresses[i]));
    for (const auto& q : c.address_prefixes)
      if (q.first == p->first) s.fail(key, "appears twice: " + quote(c.addresses[i]));
    c.address_prefixes.emplace_back(p->first, p->second);
  }
  // "2001:db8::2/64", or a range "2001:db8::10-2001:db8::4f/64": every address from the first to
  // the last, both inside the first's prefix, each a local address with that prefix.
  c.ipv6 = s.strings("ipv6");
  for (std::size_t i = 0; i < c.ipv6.size(); ++i) {
    const std::string& text = c.ipv6[i];
    const std::string_view tv = text;
    const std::string key = "ipv6[" + std::to_string(i) + "]";
    std::optional<wire::Ipv6Prefix> p;
    std::optional<wire::Ipv6Addr> last;
    const auto dash = tv.find('-'), slash = tv.rfind('/');
    if (dash == std::string_view::npos) {
      p = wire::Ipv6Prefix::parse(tv);
    } else if (slash != std::string_view::npos && slash > dash) {
      const std::string_view a = tv.substr(0, dash), b = tv.substr(dash + 1, slash - dash - 1);
      if (parse_ipv4(a) || parse_ipv4(b)) s.fail(key, "both ends of a range must be IPv6 addresses: " + quote(text));
      last = wire::Ipv6Addr::parse(b);
      if (last) p = wire::Ipv6Prefix::parse(std::string(a) + std::string(tv.substr(slash)));
    }
    if (!p) {
      s.fail(key, "not an IPv6 address with prefix (like 2001:db8::2/64) or range (like "
                  "2001:db8::10-2001:db8::4f/64): " + quote(text));
    }
    if (!is_unicast_ipv6(p->addr) || (last && !is_unicast_ipv6(*last)))
      s.fail(key, "not a unicast host address: " + quote(text));
    if (p->length == 0) s.fail(key, "the prefix length must be 1 to 128: " + quote(text));
    if (last && *last < p->addr) s.fail(key, "a range must not end below its start: " + quote(text));
    if (last && !p->contains(*last))
      s.fail(key, "the range ends outside its /" + std::to_string(p->length) + " prefix: " + quote(text));
    const uint64_t room = kMaxIpv6Addresses - c.ipv6_prefixes.size();
    const auto n = last ? ipv6_range_size(p->addr, *last, room) : room > 0 ? std::optional<uint64_t>(1) : std::nullopt;
    if (!n) s.fail(key, "more than " + std::to_string(kMaxIpv6Addresses) + " addresses in all: " + quote(text));
    wire::Ipv6Prefix a = *p;
    // Both ends unicast is enough: the special blocks (::, ::1, ::ffff:0:0/96, ff00::/8) lie at
    // the ends of the space or span far more than kMaxIpv6Addresses, so no short range holds one.
    for (uint64_t k = 0; k < *n; ++k, a.addr = ipv6_next(a.addr)) {
      for (const auto& q : c.ipv6_prefixes) {
        if (q.addr != a.addr) continue;
        if (!last) s.fail(key, "appears twice: " + quote(text));
        s.fail(key, "the range holds " + a.addr.to_string() + ", listed before: " + quote(text));
      }
      c.ipv6_prefixes.push_back(a);
    }
  }
  auto on_link6 = [&](const wire::Ipv6Addr& a) {
    if (a.is_link_local()) return true;
    for (const auto& p : c.ipv6_prefixes)
      if (p.contains(a)) return true;
    return false;
  };
  c.gateway6 = s.string("gateway6", c.gateway6);
  if (!c.gateway6.empty()) {
    c.gateway6_ip = wire::Ipv6Addr::parse(c.gateway6);
    if (!c.gateway6_ip || c.gateway6_ip->is_multicast() || c.gateway6_ip->is_unspecified())
      s.fail("gateway6", "not a unicast IPv6 address (like fe80::1): " + quote(c.gateway6));
    if (c.ipv6.empty()) s.fail("gateway6", "needs network.ipv6 addresses");
    if (!on_link6(*c.gateway6_ip))
      s.fail("gateway6", quote(c.gateway6) + " is neither link-local nor inside a network.ipv6 prefix");
  }
  auto mac = [&](std::string_view key, std::string& text, std::optional<std::array<uint8_t, 6>>& out, bool has_gw) {
    text = s.string(key, text);
    if (text.empty()) return;
    out = parse_mac(text);
    if (!out || ((*out)[0] & 1) != 0 || *out == std::array<uint8_t, 6>{})
      s.fail(key, "not a unicast MAC address (like 02:00:00:00:00:01): " + quote(text));
    if (!has_gw) s.fail(key, "given without its gateway");
  };
  mac("gateway_mac", c.gateway_mac, c.gateway_mac_addr, c.gateway_ip.has_value());
  mac("gateway6_mac", c.gateway6_mac, c.gateway6_mac_addr, c.gateway6_ip.has_value());
  c.routes = s.strings("routes");
  for (std::size_t i = 0; i < c.routes.size(); ++i) {
    const std::string key = "routes[" + std::to_string(i) + "]";
    const std::string_view r = c.routes[i];
    const auto via = r.find(" via ");
    if (via == std::string_view::npos)
      s.fail(key, "not \"PREFIX via ADDRESS\" (like \"192.168.0.0/16 via 10.0.0.254\"): " + quote(c.routes[i]));
    const std::string_view to = r.substr(0, via), hop = r.substr(via + 5);
    NetworkConfig::Route route;
    if (const auto p4 = parse_ipv4_prefix(to)) {
      const auto h4 = parse_ipv4(hop);
      if (!h4) s.fail(key, "the next hop of an IPv4 route must be an IPv4 address: " + quote(c.routes[i]));
      bool on_link = (*h4 & c.netmask()) == (c.address_ip & c.netmask()) && *h4 != c.address_ip;
      for (const auto& [a, len] : c.address_prefixes) {
        const uint32_t m = len >= 32 ? ~0u : ~(~0u >> len);
        on_link = on_link || ((*h4 & m) == (a & m) && *h4 != a);
      }
      if (!on_link)
        s.fail(key, "the next hop is not on a subnet of network.address or network.addresses: " + quote(c.routes[i]));
      route.prefix4 = p4->first;
      route.length = p4->second;
      route.via4 = *h4;
    } else if (const auto p6 = wire::Ipv6Prefix::parse(to)) {
      const auto h6 = wire::Ipv6Addr::parse(hop);
      if (!h6 || h6->is_multicast())
        s.fail(key, "the next hop of an IPv6 route must be a unicast IPv6 address: " + quote(c.routes[i]));
      if (!on_link6(*h6))
        s.fail(key, "the next hop is neither link-local nor inside a network.ipv6 prefix: " + quote(c.routes[i]));
      route.v6 = true;
      route.prefix6 = *p6;
      route.length = p6->length;
      route.via6 = *h6;
    } else {
      s.fail(key, "not an IPv4 or IPv6 prefix before \"via\": " + quote(c.routes[i]));
    }
    c.parsed_routes.push_back(route);
  }
}

NetworkConfig read_network(const Section& s) {
  NetworkConfig c;
  c.address = s.required_string("address");
  const auto prefix = parse_ipv4_prefix(c.address);
  if (!prefix) {
    s.fail("address", "not an IPv4 address with prefix (like 10.0.0.2/24): " + quote(c.address));
  }
  c.address_ip = prefix->first;
  c.prefix_len = prefix->second;
  if (c.prefix_len == 0) s.fail("address", "the prefix length must be 1 to 32: " + quote(c.address));
  if (is_special_ipv4(c.address_ip)) {
    s.fail("address", "not a unicast host address (0/8, 127/8 and 224/3 are not): " + quote(c.address));
  }
  const uint32_t host = c.address_ip & ~c.netmask();
  if (c.prefix_len <= 30 && (host == 0 || host == ~c.netmask())) {
    s.fail("address", "the network or broadcast address of its prefix, not a host address: " +
                          quote(c.address));
  }
  c.gateway = s.string("gateway", c.gateway);
  if (!c.gateway.empty()) {
    c.gateway_ip = parse_ipv4(c.gateway);
    if (!c.gateway_ip) s.fail("gateway", "not an IPv4 address (like 10.0.0.1): " + quote(c.gateway));
    if (*c.gateway_ip == c.address_ip) s.fail("gateway", "is our own address " + quote(c.gateway));
    if ((*c.gateway_ip & c.netmask()) != (c.address_ip & c.netmask())) {
      s.fail("gateway", quote(c.gateway) + " is outside network.address " + c.address);
    }
  }
  c.arp_timeout_s = s.integer("arp_timeout_s", c.arp_timeout_s, 1, 86400);
  read_network6(s, c);
  return c;
}

TcpConfig read_tcp(const Section& s) {
  TcpConfig c;
  c.mss = s.integer("mss", c.mss, 88, 9000);
  c.msl_s = s.number("msl_s", c.msl_s, 0.001, 600);
  c.rto_min_ms = s.integer("rto_min_ms", c.rto_min_ms, 1, 60000);
  c.rto_initial_ms = s.integer("rto_initial_ms", c.rto_initial_ms, 1, 60000);
  c.rto_max_ms = s.integer("rto_max_ms", c.rto_max_ms, 60000, 3600000);
  if (c.rto_initial_ms < c.rto_min_ms) {
    s.fail("rto_initial_ms", "must not be less than tcp.rto_min_ms (" + std::to_string(c.rto_min_ms) +
                                 "), got " + std::to_string(c.rto_initial_ms));
  }
  c.r1_retries = s.integer("r1_retries", c.r1_retries, 1, 255);
  c.r2_s = s.integer("r2_s", c.r2_s, 1, 86400);
  c.r2_syn_s = s.integer("r2_syn_s", c.r2_syn_s, 180, 86400);
  c.delayed_ack_ms = s.integer("delayed_ack_ms", c.delayed_ack_ms, 0, 499);
  c.nagle = s.boolean("nagle", c.nagle);
  c.keepalive = s.boolean("keepalive", c.keepalive);
  c.keepalive_idle_s = s.integer("keepalive_idle_s", c.keepalive_idle_s, 1, 604800);
  c.keepalive_interval_s = s.integer("keepalive_interval_s", c.keepalive_interval_s, 1, 86400);
  c.keepalive_probes = s.integer("keepalive_probes", c.keepalive_probes, 1, 255);
  c.congestion = s.choice("congestion", c.congestion,
                          {{"newreno", CongestionControl::kNewReno}, {"cubic", CongestionControl::kCubic}});
  c.initial_window_segments = s.integer("initial_window_segments", c.initial_window_segments, 1, 64);
  c.window_scale = s.integer("window_scale", c.window_scale, 0, 14);
  c.timestamps = s.boolean("timestamps", c.timestamps);
  c.sack = s.boolean("sack", c.sack);
  c.rcv_buffer = s.integer("rcv_buffer", c.rcv_buffer, 4096, kGi);
  c.max_connections = s.integer("max_connections", c.max_connections, 1, 64 * kMi);
  c.full_state_connections = s.integer("full_state_connections", c.full_state_connections, 0, 64 * kMi);
  if (c.full_state_connections > c.max_connections)
    s.fail("full_state_connections", std::to_string(c.full_state_connections) + " is more than tcp.max_connections = " +
                                     std::to_string(c.max_connections) + " (0 means the same)");
  c.syn_backlog = s.integer("syn_backlog", c.syn_backlog, 1, kMi);
  c.syn_cookies = s.boolean("syn_cookies", c.syn_cookies);
  c.time_wait_capacity = s.integer("time_wait_capacity", c.time_wait_capacity, 1, 64 * kMi);
  return c;
}

ServerConfig read_server(const Section& s) {
  ServerConfig c;
  c.close_first = s.boolean("close_first", c.close_first);
  if (const Section h = s.table("http"); h.present()) {
    HttpServerConfig http;
    http.port = h.integer("port", http.port, 1, 65535);
    http.body = h.string("body", http.body);
    if (auto size = h.optional_integer("body_size", 0, kGi)) {
      if (h.has("body")) h.fail("body_size", "set server.http.body or server.http.body_size, not both");
      http.body_size = static_cast<uint64_t>(*size);
    }
    http.keepalive = h.boolean("keepalive", http.keepalive);
    http.status = h.integer("status", http.status, 100, 599);
    http.content_type = h.string("content_type", http.content_type);
    if (http.content_type.empty() || has_control(http.content_type)) {
      h.fail("content_type", "must be a non-empty header value without control characters, got " +
                                 quote(http.content_type));
    }
    c.http = http;
  }
  if (const Section e = s.table("echo"); e.present()) {
    c.echo = EchoServerConfig{};
    c.echo->port = e.integer("port", c.echo->port, 1, 65535);
  }
  if (const Section d = s.table("discard"); d.present()) {
    c.discard = DiscardServerConfig{};
    c.discard->port = d.integer("port", c.discard->port, 1, 65535);
  }
  if (!c.http && !c.echo && !c.discard) {
    s.fail_self("needs at least one of [server.http], [server.echo], [server.discard]");
  }
  // One listener per port.
  std::vector<std::pair<std::string, uint16_t>> ports;  // (key under [server], port)
  if (c.http) ports.emplace_back("http.port", c.http->port);
  if (c.echo) ports.emplace_back("echo.port", c.echo->port);
  if (c.discard) ports.emplace_back("discard.port", c.discard->port);
  for (size_t i = 0; i < ports.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (ports[i].second == ports[j].second) {
        s.fail(ports[i].first, std::to_string(ports[i].second) + " is already used by server." + ports[j].first);
      }
    }
  }
  return c;
}

ClientConfig read_client(const Section& s, const NetworkConfig& net) {
  ClientConfig c;
  c.protocol = s.choice("protocol", c.protocol,
                        {{"http", ClientProtocol::kHttp}, {"echo", ClientProtocol::kEcho},
                         {"discard", ClientProtocol::kDiscard}},
                        /*required=*/true);

  // "10.0.0.1:80" or "[2001:db8::1]:80" (RFC 3986 brackets), one of the servers to load.
  auto parse_target = [&](const std::string& key, const std::string& text) {
    ClientConfig::Target t;
    if (!text.empty() && text[0] == '[') {
      const auto close = text.find("]:");
      const auto ip = close == std::string::npos ? std::nullopt
                                                 : wire::Ipv6Addr::parse(std::string_view(text).substr(1, close - 1));
      const auto port = close == std::string::npos ? std::nullopt
                                                   : parse_decimal(std::string_view(text).substr(close + 2), 5);
      if (!ip || !port || *port < 1 || *port > 65535)
        s.fail(key, "not an IPv6 address in brackets and a port (like [2001:db8::1]:80): " + quote(text));
      if (ip->is_multicast() || ip->is_unspecified() || ip->is_loopback() || ip->is_v4_mapped())
        s.fail(key, "not a unicast address: " + quote(text));
      if (net.ipv6.empty()) s.fail(key, "an IPv6 target needs network.ipv6 addresses: " + quote(text));
      for (const auto& p : net.ipv6_prefixes)
        if (p.addr == *ip) s.fail(key, "is our own address: " + quote(text));
      t.ip6 = *ip;
      t.port = static_cast<uint16_t>(*port);
      return t;
    }
    const auto colon = text.rfind(':');
    const auto ip = colon == std::string::npos ? std::nullopt : parse_ipv4(std::string_view(text).substr(0, colon));
    const auto port = colon == std::string::npos ? std::nullopt
                                                 : parse_decimal(std::string_view(text).substr(colon + 1), 5);
    if (!ip || !port || *port < 1 || *port > 65535) {
      s.fail(key, "not an IPv4 address and port (like 10.0.0.1:80): " + quote(text));
    }
    if (is_special_ipv4(*ip) || *ip == 0xffffffffu) {
      s.fail(key, "not a unicast address: " + quote(text));
    }
    if (*ip == net.address_ip) s.fail(key, "is our own network.address: " + quote(text));
    t.ip = *ip;
    t.port = static_cast<uint16_t>(*port);
    return t;
  };
  c.target = s.required_string("target");
  {
    const ClientConfig::Target t = parse_target("target", c.target);
    c.target_ip = t.ip;
    c.target_ip6 = t.ip6;
    c.target_port = t.port;
  }
  // More servers: "ADDRESS:PORT" with an optional " weight=N" (1..1000), IPv4 address ranges and
  // port ranges; client.target has weight 1.
  c.targets = s.strings("targets");
  for (std::size_t i = 0; i < c.targets.size(); ++i) {
    const std::string key = "targets[" + std::to_string(i) + "]";
    std::string text = c.targets[i];
    uint32_t weight = 1;
    if (const auto w = text.find(" weight="); w != std::string::npos) {
      const auto v = parse_decimal(std::string_view(text).substr(w + 8), 4);
      if (!v || *v < 1 || *v > 1000) s.fail(key, "the weight must be 1 to 1000: " + quote(c.targets[i]));
      weight = static_cast<uint32_t>(*v);
      text.resize(w);
    }
    // Ranges: "10.0.0.10-10.0.0.19:80" and "[2001:db8::10-2001:db8::1f]:80" (addresses),
    // "...:8080-8083" (ports, either family): one target per address and port, each with the weight.
    const bool v6 = !text.empty() && text[0] == '[';
    const auto close = text.find("]:");
    const auto colon = v6 ? (close == std::string::npos ? close : close + 1) : text.rfind(':');
    if (colon == std::string::npos || colon == 0) s.fail(key, "not ADDRESS:PORT: " + quote(c.targets[i]));
    const std::string host = text.substr(0, colon), ports = text.substr(colon + 1);
    std::string host_first = host, host_last = host, port_first = ports, port_last = ports;
    if (const auto d = host.find('-'); d != std::string::npos) {
      // Inside the brackets for IPv6: "[a-b]" is "[a]" to "[b]".
      const std::string a = host.substr(v6 ? 1 : 0, v6 ? d - 1 : d);
      const std::string b = host.substr(d + 1, host.size() - d - (v6 ? 2 : 1));
      const bool mixed = v6 ? parse_ipv4(a) || parse_ipv4(b)
                            : a.find_first_of("[]:") != std::string::npos || b.find_first_of("[]:") != std::string::npos;
      if (mixed) s.fail(key, "both ends of a range must be of one family: " + quote(c.targets[i]));
      host_first = v6 ? "[" + a + "]" : a;
      host_last = v6 ? "[" + b + "]" : b;
    }
    if (const auto d = ports.find('-'); d != std::string::npos) {
      port_first = ports.substr(0, d);
      port_last = ports.substr(d + 1);
    }
    const ClientConfig::Target first = parse_target(key, host_first + ":" + port_first);
    const ClientConfig::Target last = parse_target(key, host_last + ":" + port_last);
    if (last.ip < first.ip || (v6 && *last.ip6 < *first.ip6) || last.port < first.port)
      s.fail(key, "a range must not end below its start: " + quote(c.targets[i]));
    const uint64_t port_count = uint64_t{last.port} - first.port + 1;
    const uint64_t room = 4096 - c.target_list.size();
    const auto hosts = v6 ? ipv6_range_size(*first.ip6, *last.ip6, room) : std::optional<uint64_t>(uint64_t{last.ip} - first.ip + 1);
    if (!hosts || *hosts * port_count > room) s.fail(key, "more than 4096 targets in all: " + quote(c.targets[i]));
    ClientConfig::Target t = first;
    t.weight = weight;
    for (uint64_t k = 0; k < *hosts; ++k) {
      if (k > 0 && v6) t.ip6 = ipv6_next(*t.ip6);
      if (k > 0 && !v6) ++t.ip;
      // parse_target checked the ends; inner addresses may still be ours (or special, for IPv4:
      // an IPv6 range short enough holds no special address, see read_network6).
      bool bad = !v6 && (is_special_ipv4(t.ip) || t.ip == net.address_ip);
      for (const auto& p : net.ipv6_prefixes) bad = bad || (v6 && p.addr == *t.ip6);
      if (bad) {
        s.fail(key, "the range holds " + (v6 ? t.ip6->to_string() : ipv4_to_string(t.ip)) + ", not a target: " +
                        quote(c.targets[i]));
      }
      for (uint32_t port = first.port; port <= last.port; ++port) {
        t.port = static_cast<uint16_t>(port);
        c.target_list.push_back(t);
      }
    }
  }

  c.source_ports = s.string("source_ports", c.source_ports);
  {
    const auto dash = c.source_ports.find('-');
    const std::string_view sp = c.source_ports;
    const auto first = dash == std::string::npos ? std::nullopt : parse_decimal(sp.substr(0, dash), 5);
    const auto last = dash == std::string::npos ? std::nullopt : parse_decimal(sp.substr(dash + 1), 5);
    if (!first || !last || *first < 1 || *last > 65535 || *first > *last) {
      s.fail("source_ports", "not a port range first-last within 1-65535 (like 10000-60000): " +
                                 quote(c.source_ports));
    }
    c.source_port_first = static_cast<uint16_t>(*first);
    c.source_port_last = static_cast<uint16_t>(*last);
  }

  c.source_addresses = s.string("source_addresses", c.source_addresses);
  c.source_address_first = c.source_address_last = net.address_ip;
  if (!c.source_addresses.empty()) {
    // "a.b.c.d-a.b.c.e": more source addresses, each with the whole source-port range (the
    // number of connections one client can hold to one target, and its TIME_WAIT budget, grow
    // with it). They share network.address's subnet; ARP is answered for every one.
    const auto dash = c.source_addresses.find('-');
    const std::string_view sa = c.source_addresses;
    const auto first = dash == std::string::npos ? std::nullopt : parse_ipv4(sa.substr(0, dash));
    const auto last = dash == std::string::npos ? std::nullopt : parse_ipv4(sa.substr(dash + 1));
    const uint32_t mask = net.netmask();
    if (!first || !last || *first > *last) {
      s.fail("source_addresses", "not an address range first-last (like 10.0.0.2-10.0.0.9): " +
                                     quote(c.source_addresses));
    }
    if ((*first & mask) != (net.address_ip & mask) || (*last & mask) != (net.address_ip & mask)) {
      s.fail("source_addresses", "must lie in network.address's subnet " + net.address + ": " +
                                     quote(c.source_addresses));
    }
    // Each address keeps its own source-port table (6 bytes a port): 256 addresses of 50,000
    // ports are 77 MB per worker.
    if (*last - *first >= 256) s.fail("source_addresses", "at most 256 addresses: " + quote(c.source_addresses));
    if (c.target_ip >= *first && c.target_ip <= *last) {
      s.fail("source_addresses", "holds the target's address: " + quote(c.source_addresses));
    }
    c.source_address_first = *first;
    c.source_address_last = *last;
  }

  c.connections_per_second = s.integer("connections_per_second", c.connections_per_second, 0, 100'000'000);
  c.ramp_up_s = s.number("ramp_up_s", c.ramp_up_s, 0, 86400);
  c.concurrency = s.integer("concurrency", c.concurrency, 1, 64 * kMi);
  const uint64_t port_count = uint64_t{c.source_port_last - c.source_port_first + 1u} *
                              (c.source_address_last - c.source_address_first + 1u);
  if (c.concurrency > port_count) {
    s.fail("concurrency", std::to_string(c.concurrency) + " connections to one target need as many source " +
                              "address:port pairs; client.source_ports " + c.source_ports + " (times " +
                              "client.source_addresses) gives " + std::to_string(port_count));
  }
  c.requests_per_connection = s.integer("requests_per_connection", c.requests_per_connection, 0, 1'000'000'000);
  c.request_rate = s.integer("request_rate", c.request_rate, 0, 1'000'000'000);
  c.request_size = s.integer("request_size", c.request_size, 0, kGi);

  c.http_path = s.string("http_path", c.http_path);
  if (c.http_path.empty() || c.http_path[0] != '/' || has_control_or_space(c.http_path)) {
    s.fail("http_path", "must start with '/' and hold no spaces or control characters, got " + quote(c.http_path));
  }
  c.http_host = s.string("http_host", c.http_host);
  if (has_control_or_space(c.http_host)) {
    s.fail("http_host", "must hold no spaces or control characters, got " + quote(c.http_host));
  }
  if (c.http_host.empty()) {
    c.http_host = c.target_ip6 ? (c.target_port == 80 ? "[" + c.target_ip6->to_string() + "]" : c.target)
                  : c.target_port == 80 ? ipv4_to_string(c.target_ip) : c.target;
  }

  c.response_size = s.integer("response_size", c.response_size, 0, kGi);
  if (c.protocol == ClientProtocol::kDiscard && c.response_size != 0) {
    s.fail("response_size", "must be 0 with protocol \"discard\" (a discard server sends nothing back), got " +
                                std::to_string(c.response_size));
  }
  c.think_time_ms = s.integer("think_time_ms", c.think_time_ms, 0, 3'600'000);
  c.close = s.choice("close", c.close, {{"fin", CloseMode::kFin}, {"rst", CloseMode::kRst}});
  c.duration_s = s.number("duration_s", c.duration_s, 0.1, 86400);
  return c;
}

Config validate(const toml::table& root, const Context& ctx, Role role) {
  // The role decides which of [server] and [client] belongs here; check that before the keys
  // inside, so that a server file given to a client names the real problem.
  if (role == Role::kClient && root.contains("server")) {
    ctx.fail("server", "only allowed when running as server (this is a client configuration)");
  }
  if (role == Role::kServer && root.contains("client")) {
    ctx.fail("client", "only allowed when running as client (this is a server configuration)");
  }
  check_unknown_keys(root, "", ctx);

  const Section top(ctx, &root, "");
  Config c;
  c.role = role;
  c.source = ctx.source();
  c.dpdk = read_dpdk(top.table("dpdk"));
  c.port = read_port(top.table("port"));
  c.network = read_network(top.table("network"));
  c.tcp = read_tcp(top.table("tcp"));

  // Cross-checks between sections.
  if (c.tcp.mss + 40 > c.port.mtu) {
    ctx.fail("tcp.mss", std::to_string(c.tcp.mss) + " does not fit in port.mtu " + std::to_string(c.port.mtu) +
                            " (at most mtu - 40 = " + std::to_string(c.port.mtu - 40) + ")");
  }
  if (c.port.impairment.enabled()) {
    // Held frames are mbufs of the port's pool: both directions of every worker full must
    // still leave the stack half the pool.
    const uint64_t held = uint64_t{2} * c.port.impairment.queue * c.dpdk.workers;
    if (held > c.dpdk.mbufs / 2) {
      ctx.fail("port.impairment.queue", std::to_string(c.port.impairment.queue) + " frames held per direction and worker (" +
                                            std::to_string(held) + " in all) is more than half of dpdk.mbufs " +
                                            std::to_string(c.dpdk.mbufs));
    }
  }
  if (c.dpdk.mbuf_data_room < c.port.mtu + 18) {
    ctx.fail("dpdk.mbuf_data_room", std::to_string(c.dpdk.mbuf_data_room) + " bytes cannot hold a frame of port.mtu " +
                                        std::to_string(c.port.mtu) + " (needs mtu + 18 = " +
                                        std::to_string(c.port.mtu + 18) + ")");
  }

  if (role == Role::kServer) {
    const Section server = top.table("server");
    if (!server.present()) {
      ctx.fail("server", "missing required section (with at least one of [server.http], [server.echo], "
                         "[server.discard])");
    }
    c.server = read_server(server);
  } else {
    const Section client = top.table("client");
    if (!client.present()) ctx.fail("client", "missing required section");
    c.client = read_client(client, c.network);
    const uint64_t capacity = uint64_t{c.tcp.max_connections} * c.dpdk.workers;
    if (c.client->concurrency > capacity) {
      ctx.fail("client.concurrency", std::to_string(c.client->concurrency) +
                                         " is more than tcp.max_connections x dpdk.workers = " +
                                         std::to_string(capacity));
    }
  }

  const Section status = top.table("status");
  c.status.interval_s = status.number("interval_s", c.status.interval_s, 0, 3600);
  if (c.status.interval_s != 0 && c.status.interval_s < 0.1) {
    status.fail("interval_s", "must be 0 (off) or from 0.1 to 3600, got " + format_double(c.status.interval_s));
  }
  const Section log = top.table("log");
  c.log.level = log.choice("level", c.log.level,
                           {{"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo},
                            {"warn", LogLevel::kWarn}, {"error", LogLevel::kError}, {"off", LogLevel::kOff}});
  return c;
}

// JSON -> TOML for to_toml (objects become tables; null is left out).
toml::table json_to_toml_table(const nlohmann::json& j);

void insert_json(toml::table& t, const std::string& key, const nlohmann::json& v) {
  if (v.is_object()) t.insert(key, json_to_toml_table(v));
  else if (v.is_boolean()) t.insert(key, v.get<bool>());
  else if (v.is_number_integer()) t.insert(key, v.get<int64_t>());
  else if (v.is_number_float()) t.insert(key, v.get<double>());
  else if (v.is_string()) t.insert(key, v.get<std::string>());
  else if (v.is_array()) {
    toml::array a;
    for (const auto& item : v) {
      if (item.is_string()) a.push_back(item.get<std::string>());
      else if (item.is_number_integer()) a.push_back(item.get<int64_t>());
    }
    t.insert(key, std::move(a));
  }
}

toml::table json_to_toml_table(const nlohmann::json& j) {
  toml::table t;
  for (const auto& [k, v] : j.items()) insert_json(t, k, v);
  return t;
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// Public API.

std::string_view to_string(Role role) { return role == Role::kServer ? "server" : "client"; }
std::string_view to_string(CongestionControl c) { return c == CongestionControl::kNewReno ? "newreno" : "cubic"; }
std::string_view to_string(ClientProtocol p) {
  switch (p) {
    case ClientProtocol::kHttp: return "http";
    case ClientProtocol::kEcho: return "echo";
    case ClientProtocol::kDiscard: return "discard";
  }
  return "?";
}
std::string_view to_string(CloseMode m) { return m == CloseMode::kFin ? "fin" : "rst"; }
std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "?";
}

const std::vector<std::string_view>& known_config_keys() { return kKnownKeys; }

Config parse_config(std::string_view toml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides, Role role) {
  Context ctx(source_name);
  toml::table root = parse_toml(toml_text, source_name);
  for (const std::string& o : overrides) apply_override(root, o, ctx);
  return validate(root, ctx, role);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides, Role role) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
  return parse_config(text.str(), path, overrides, role);
}

nlohmann::json to_json(const Config& c) {
  using nlohmann::json;
  json j;
  j["dpdk"] = {{"eal", c.dpdk.eal},
               {"mbufs", c.dpdk.mbufs},
               {"mbuf_cache", c.dpdk.mbuf_cache},
               {"mbuf_data_room", c.dpdk.mbuf_data_room},
               {"workers", c.dpdk.workers},
               {"rx_burst", c.dpdk.rx_burst},
               {"tx_burst", c.dpdk.tx_burst}};
  j["port"] = {{"device", c.port.device},
               {"rx_descriptors", c.port.rx_descriptors},
               {"tx_descriptors", c.port.tx_descriptors},
               {"mtu", c.port.mtu},
               {"promiscuous", c.port.promiscuous},
               {"mac", c.port.mac},
               {"checksum_offload", c.port.checksum_offload},
               {"vlan", c.port.vlan}};
  {
    const engine::ImpairmentConfig& im = c.port.impairment;
    auto profile = [](const engine::ImpairmentProfile& p) {
      return json{{"drop", p.drop},         {"duplicate", p.duplicate}, {"reorder", p.reorder},
                  {"corrupt", p.corrupt},   {"delay_us", p.delay_us},   {"jitter_us", p.jitter_us},
                  {"reorder_delay_us", p.reorder_delay_us}};
    };
    const double blackout = im.rx.blackout.is_never() ? 0.0 : static_cast<double>(im.rx.blackout.ns()) / 1e9;
    j["port"]["impairment"] = {{"seed", im.seed},
                               {"queue", im.queue},
                               {"blackout_after_s", blackout},
                               {"rx", profile(im.rx)},
                               {"tx", profile(im.tx)}};
  }
  j["network"] = {{"address", c.network.address},
                  {"gateway", c.network.gateway},
                  {"arp_timeout_s", c.network.arp_timeout_s},
                  {"addresses", c.network.addresses},
                  {"ipv6", c.network.ipv6},
                  {"gateway6", c.network.gateway6},
                  {"gateway_mac", c.network.gateway_mac},
                  {"gateway6_mac", c.network.gateway6_mac},
                  {"routes", c.network.routes}};
  const TcpConfig& t = c.tcp;
  j["tcp"] = {{"mss", t.mss},
              {"msl_s", t.msl_s},
              {"rto_min_ms", t.rto_min_ms},
              {"rto_initial_ms", t.rto_initial_ms},
              {"rto_max_ms", t.rto_max_ms},
              {"r1_retries", t.r1_retries},
              {"r2_s", t.r2_s},
              {"r2_syn_s", t.r2_syn_s},
              {"delayed_ack_ms", t.delayed_ack_ms},
              {"nagle", t.nagle},
              {"keepalive", t.keepalive},
              {"keepalive_idle_s", t.keepalive_idle_s},
              {"keepalive_interval_s", t.keepalive_interval_s},
              {"keepalive_probes", t.keepalive_probes},
              {"congestion", to_string(t.congestion)},
              {"initial_window_segments", t.initial_window_segments},
              {"window_scale", t.window_scale},
              {"timestamps", t.timestamps},
              {"sack", t.sack},
              {"rcv_buffer", t.rcv_buffer},
              {"max_connections", t.max_connections},
              {"full_state_connections", t.full_state_connections},
              {"syn_backlog", t.syn_backlog},
              {"syn_cookies", t.syn_cookies},
              {"time_wait_capacity", t.time_wait_capacity}};
  if (c.server) {
    json s = {{"close_first", c.server->close_first}};
    if (const auto& h = c.server->http) {
      json hj = {{"port", h->port}, {"keepalive", h->keepalive}, {"status", h->status},
                 {"content_type", h->content_type}};
      if (h->body_size) hj["body_size"] = *h->body_size;
      else hj["body"] = h->body;
      s["http"] = hj;
    }
    if (c.server->echo) s["echo"] = {{"port", c.server->echo->port}};
    if (c.server->discard) s["discard"] = {{"port", c.server->discard->port}};
    j["server"] = s;
  }
  if (const auto& k = c.client) {
    j["client"] = {{"protocol", to_string(k->protocol)},
                   {"target", k->target},
                   {"targets", k->targets},
                   {"source_ports", k->source_ports},
                   {"source_addresses", k->source_addresses},
                   {"connections_per_second", k->connections_per_second},
                   {"ramp_up_s", k->ramp_up_s},
                   {"concurrency", k->concurrency},
                   {"requests_per_connection", k->requests_per_connection},
                   {"request_rate", k->request_rate},
                   {"request_size", k->request_size},
                   {"http_path", k->http_path},
                   {"http_host", k->http_host},
                   {"response_size", k->response_size},
                   {"think_time_ms", k->think_time_ms},
                   {"close", to_string(k->close)},
                   {"duration_s", k->duration_s}};
  }
  j["status"] = {{"interval_s", c.status.interval_s}};
  j["log"] = {{"level", to_string(c.log.level)}};
  return j;
}

std::string to_toml(const Config& config) {
  std::ostringstream out;
  out << json_to_toml_table(to_json(config)) << "\n";
  return out.str();
}

}  // namespace linetcp::control
