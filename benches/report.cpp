#include "benches/report.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "harness/cpu_features.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#ifndef QB_VERSION
#define QB_VERSION "unversioned"
#endif
#ifndef QB_GIT_COMMIT
#define QB_GIT_COMMIT "unknown"
#endif

namespace qb::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%x", v);
  return buf;
}

// Display family and model (CPUID leaf 1 with the extended fields folded in).
struct FamilyModel {
  unsigned family = 0, model = 0;
};

FamilyModel family_model() {
  FamilyModel fm;
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    const unsigned base_family = (a >> 8) & 0xF, base_model = (a >> 4) & 0xF;
    fm.family = base_family == 0xF ? base_family + ((a >> 20) & 0xFF) : base_family;
    fm.model = base_family == 0xF || base_family == 0x6 ? (((a >> 16) & 0xF) << 4) | base_model : base_model;
  }
#endif
  return fm;
}

// Microarchitecture from family/model: AMD's families map to Zen generations (model ranges from
// AMD's processor programming references); Intel's family 6 only for the server and client parts
// such benchmarks meet most. Anything else is named by its numbers.
std::string microarchitecture(const std::string& vendor, FamilyModel fm) {
  const unsigned f = fm.family, m = fm.model;
  if (vendor == "amd") {
    if (f == 0x17) return m < 0x30 ? "zen1" : "zen2";
    if (f == 0x19) return (m <= 0x0F || (m >= 0x20 && m <= 0x5F)) ? "zen3" : "zen4";
    if (f == 0x1A) return "zen5";
  } else if (vendor == "intel" && f == 6) {
    switch (m) {
      case 0x55: return "skylake-x";
      case 0x6A: case 0x6C: return "icelake-x";
      case 0x8F: return "sapphirerapids";
      case 0xCF: return "emeraldrapids";
      case 0xAD: case 0xAE: return "graniterapids";
      case 0x7D: case 0x7E: return "icelake";
      case 0x8C: case 0x8D: return "tigerlake";
      case 0x97: case 0x9A: return "alderlake";
      case 0xB7: case 0xBA: case 0xBF: return "raptorlake";
      default: break;
    }
  }
  return "f" + hex(f) + "m" + hex(m);
}

// The product line, when the brand string names one quantbench users tell apart.
std::string product_line(const std::string& brand) {
  const std::string b = lower(brand);
  for (const char* line : {"epyc", "ryzen", "threadripper", "xeon", "core", "graviton", "neoverse"})
    if (b.find(line) != std::string::npos) return line;
  return "";
}

std::string isa_level(uint64_t f) {
  if ((f & kIsaAVX512) == kIsaAVX512) return "avx512";
  if ((f & kIsaAVX2) == kIsaAVX2) return "avx2";
  return cpu_info().arch == "x86_64" ? "sse2" : cpu_info().arch;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": not JSON: " + e.what());
  }
}

// A context value that is a JSON object serialized into a string (variant_isa, skipped_variants).
json object_in_string(const json& context, const std::string& key) {
  if (!context.contains(key) || !context[key].is_string()) return json::object();
  json j = json::parse(context[key].get<std::string>(), nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : json::object();
}

std::string row_key(const json& row) {
  return row.value("run_name", row.value("name", std::string()));
}

}  // namespace

std::string hardware_id() {
  const CpuInfo& cpu = cpu_info();
  std::string vendor = lower(cpu.vendor);
  if (vendor.find("amd") != std::string::npos) vendor = "amd";
  else if (vendor.find("intel") != std::string::npos) vendor = "intel";
  else if (vendor.empty()) vendor = cpu.arch;
  std::string id = vendor;
  if (const std::string line = product_line(cpu.brand); !line.empty()) id += "-" + line;
  if (cpu.arch == "x86_64") id += "-" + microarchitecture(vendor, family_model());
  id += "-" + std::to_string(cpu.logical_cores) + "c-" + isa_level(cpu.features);
  return id;
}

std::string report_path(const std::string& dir) {
  return (fs::path(dir) / hardware_id() / (std::string(QB_VERSION) + "-" + QB_GIT_COMMIT + ".json")).string();
}

void merge_into_report(const std::string& run_json, const std::string& path, const std::string& command_line) {
  json run = read_json(run_json);
  if (!run.contains("benchmarks") || !run["benchmarks"].is_array() || !run.contains("context") ||
      !run["context"].is_object())
    throw std::runtime_error(run_json + ": no benchmarks/context (not Google Benchmark JSON)");
  json report;
  if (fs::exists(path)) {
    report = read_json(path);
    if (!report.is_object() || !report.contains("benchmarks") || !report["benchmarks"].is_array())
      throw std::runtime_error(path + ": field benchmarks: missing or not an array (not a report)");
    const std::string was = report.value("context", json::object()).value("hardware_id", std::string());
    if (!was.empty() && was != hardware_id())
      throw std::runtime_error(path + ": field context.hardware_id: '" + was + "', this machine is '" +
                               hardware_id() + "'");
  } else {
    report = {{"context", json::object()}, {"benchmarks", json::array()}};
  }
  // Rows: the run's replace the report's of the same name (every repetition and aggregate).
  std::set<std::string> names;
  for (const json& row : run["benchmarks"]) names.insert(row_key(row));
  json rows = json::array();
  for (const json& row : report["benchmarks"])
    if (!names.count(row_key(row))) rows.push_back(row);
  for (const json& row : run["benchmarks"]) rows.push_back(row);
  report["benchmarks"] = rows;
  // Context: the latest run's values, the ISA maps of all runs.
  json& ctx = report["context"];
  json isa = object_in_string(ctx, "variant_isa"), skipped = object_in_string(ctx, "skipped_variants");
  isa.update(object_in_string(run["context"], "variant_isa"));
  skipped.update(object_in_string(run["context"], "skipped_variants"));
  ctx.update(run["context"]);
  ctx["variant_isa"] = isa.dump();
  ctx["skipped_variants"] = skipped.dump();
  ctx["hardware_id"] = hardware_id();
  // Everything else a run added at top level (a model's projection) is kept under its run.
  json record = {{"command", command_line},
                 {"date", run["context"].value("date", std::string())},
                 {"threads", run["context"].value("threads", std::string())},
                 {"loadavg_1_5_15min", run["context"].value("loadavg_1_5_15min", std::string())}};
  for (auto it = run.begin(); it != run.end(); ++it)
    if (it.key() != "context" && it.key() != "benchmarks") record[it.key()] = it.value();
  if (!report.contains("quantbench_runs") || !report["quantbench_runs"].is_array())
    report["quantbench_runs"] = json::array();
  report["quantbench_runs"].push_back(record);

  fs::create_directories(fs::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw std::runtime_error(tmp + ": cannot write");
    out << report.dump(2) << "\n";
    if (!out) throw std::runtime_error(tmp + ": write failed");
  }
  fs::rename(tmp, path);  // a reader never sees half a report
}

}  // namespace qb::bench
