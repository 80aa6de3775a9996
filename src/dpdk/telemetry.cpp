// The /linetcp/* telemetry commands.
#include "linetcp/dpdk/telemetry.hpp"

#include <rte_telemetry.h>

#include <mutex>

#include "linetcp/tcp/tcp_connection.hpp"

namespace linetcp::dpdk {

namespace {
std::mutex g_mutex;
std::vector<TelemetrySource> g_sources;
bool g_registered = false;

// Telemetry refuses names with anything but letters, digits and '_' (a "port.rx_packets" or
// "SYN-SENT" would be dropped silently): our names are mapped onto that alphabet.
std::string tel_name(std::string name) {
  for (char& c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) c = '_';
  return name;
}

// A JSON object of numbers and strings (nested objects flattened to "a_b" keys) as a telemetry dict.
void put_json(rte_tel_data* d, const nlohmann::json& j, const std::string& prefix = "") {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = tel_name(prefix.empty() ? it.key() : prefix + "_" + it.key());
    const nlohmann::json& v = it.value();
    if (v.is_object()) {
      put_json(d, v, key);
    } else if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) {
      rte_tel_data_add_dict_u64(d, key.c_str(), v.get<uint64_t>());
    } else if (v.is_string()) {
      rte_tel_data_add_dict_string(d, key.c_str(), v.get<std::string>().c_str());
    } else {
      rte_tel_data_add_dict_string(d, key.c_str(), v.dump().c_str());
    }
  }
}

// Every command answers {role: {...}} for each side that runs.
int answer(rte_tel_data* d, const std::function<void(const TelemetrySource&, rte_tel_data*)>& fill) {
  std::lock_guard<std::mutex> lock(g_mutex);
  rte_tel_data_start_dict(d);
  for (const TelemetrySource& s : g_sources) {
    rte_tel_data* inner = rte_tel_data_alloc();
    if (!inner) return -1;
    rte_tel_data_start_dict(inner);
    fill(s, inner);
    rte_tel_data_add_dict_container(d, s.role.c_str(), inner, 0);
  }
  return 0;
}

int cmd_stats(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](const TelemetrySource& s, rte_tel_data* out) {
    const control::WorkerStats total = s.collect(nullptr);
    rte_tel_data_add_dict_u64(out, "active_connections", total.active_connections);
    rte_tel_data_add_dict_u64(out, "time_wait", total.time_wait);
    put_json(out, control::counters_json(total));
  });
}

int cmd_workers(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](const TelemetrySource& s, rte_tel_data* out) {
    nlohmann::json per = nlohmann::json::array();
    s.collect(&per);
    for (const auto& w : per) {
      rte_tel_data* one = rte_tel_data_alloc();
      if (!one) return;
      rte_tel_data_start_dict(one);
      put_json(one, w);
      rte_tel_data_add_dict_container(out, ("worker" + std::to_string(w["index"].get<uint32_t>())).c_str(), one, 0);
    }
  });
}

int cmd_conns(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](const TelemetrySource& s, rte_tel_data* out) {
    const control::WorkerStats total = s.collect(nullptr);
    for (std::size_t i = 0; i < total.states.size(); ++i)
      rte_tel_data_add_dict_u64(out, tel_name(tcp::to_string(static_cast<tcp::State>(i))).c_str(), total.states[i]);
  });
}

int cmd_config(const char*, const char*, rte_tel_data* d) {
  return answer(d, [](const TelemetrySource& s, rte_tel_data* out) { put_json(out, s.config); });
}
}  // namespace

void telemetry_publish(std::vector<TelemetrySource> sources) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sources = std::move(sources);
  if (g_registered) return;
  g_registered = true;
  rte_telemetry_register_cmd("/linetcp/stats", cmd_stats, "Every linetcp counter, by role. No parameters");
  rte_telemetry_register_cmd("/linetcp/workers", cmd_workers, "Per-worker connections, requests, handoffs");
  rte_telemetry_register_cmd("/linetcp/conns", cmd_conns, "Connections by TCP state (TIME-WAIT: compact records)");
  rte_telemetry_register_cmd("/linetcp/config", cmd_config, "The effective configuration");
}

void telemetry_withdraw() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_sources.clear();
}

}  // namespace linetcp::dpdk
