// What a profile says it was measured on: read from /proc, never guessed.
#pragma once

#include <map>
#include <string>

namespace joulecast {

/// Where the facts are read from; tests point these at files of their own.
struct HardwareSources {
  std::string cpuinfo = "/proc/cpuinfo";
  std::string meminfo = "/proc/meminfo";
  std::string nvidia = "/proc/driver/nvidia";  ///< The NVIDIA driver's proc folder.
};

/// The profile's `hardware` keys that can be read here: "cpu_model" (/proc/cpuinfo's first
/// "model name"), "cores" (logical CPUs online), "memory_bytes" (MemTotal), and for a GPU run
/// (gpu_index >= 0) "gpu" (the model of that GPU under nvidia/gpus/*/information) and "driver"
/// (nvidia/version). A fact that cannot be read is left out (absent means unknown).
std::map<std::string, std::string> DescribeHardware(const HardwareSources& sources,
                                                    int gpu_index);

}  // namespace joulecast
