#include "calibrate/calibration/hardware.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace joulecast {

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The value of the first "key: value" line whose key is `key`.
std::string Field(const std::string& path, const std::string& key) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    size_t colon = line.find(':');
    if (colon != std::string::npos && Trim(line.substr(0, colon)) == key) {
      return Trim(line.substr(colon + 1));
    }
  }
  return "";
}

}  // namespace

std::map<std::string, std::string> DescribeHardware(const HardwareSources& sources,
                                                    int gpu_index) {
  std::map<std::string, std::string> hw;
  if (std::string model = Field(sources.cpuinfo, "model name"); !model.empty()) {
    hw["cpu_model"] = model;
  }
  if (long cpus = sysconf(_SC_NPROCESSORS_ONLN); cpus > 0) hw["cores"] = std::to_string(cpus);
  // "MemTotal:       24576000 kB"
  if (std::string total = Field(sources.meminfo, "MemTotal"); !total.empty()) {
    std::istringstream in(total);
    long long kb = 0;
    std::string unit;
    if (in >> kb >> unit && kb > 0 && unit == "kB") hw["memory_bytes"] = std::to_string(kb * 1024);
  }
  if (gpu_index >= 0) {
    // One folder per GPU, named by PCI address; their order is the driver's device order.
    std::vector<std::string> gpus;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(sources.nvidia + "/gpus", ec)) {
      gpus.push_back(e.path().string());
    }
    std::sort(gpus.begin(), gpus.end());
    if (gpu_index < static_cast<int>(gpus.size())) {
      if (std::string model = Field(gpus[gpu_index] + "/information", "Model"); !model.empty()) {
        hw["gpu"] = model;
      }
    }
    // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ...", or
    // "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ...":
    // the first word made of digits and dots with at least one dot.
    std::ifstream version(sources.nvidia + "/version");
    std::string line;
    if (std::getline(version, line)) {
      std::istringstream words(line);
      for (std::string w; words >> w;) {
        const bool digits_and_dots =
            w.find_first_not_of("0123456789.") == std::string::npos && std::isdigit(w[0]);
        if (digits_and_dots && w.find('.') != std::string::npos) {
          hw["driver"] = w;
          break;
        }
      }
    }
  }
  return hw;
}

}  // namespace joulecast
