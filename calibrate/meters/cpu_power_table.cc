#include "calibrate/meters/cpu_power_table.h"

#include <fstream>
#include <regex>
#include <vector>

namespace joulecast {
namespace {

// TDP and thread counts from the vendors' product pages (ark.intel.com, amd.com). Patterns end
// in (?!\w) so that a model does not match its variants with other power figures (6248 vs 6248R,
// 3600 vs 3600X).
constexpr CpuPowerRow kRows[] = {
    // Servers and cloud machines (GitHub-hosted runners and many Azure VMs run on the 7763).
    {R"(EPYC 7763(?!\w))", "AMD EPYC 7763 64-Core Processor", 280, 128},
    {R"(EPYC 7742(?!\w))", "AMD EPYC 7742 64-Core Processor", 225, 128},
    {R"(EPYC 7502(?!\w))", "AMD EPYC 7502 32-Core Processor", 180, 64},
    {R"(EPYC 9654(?!\w))", "AMD EPYC 9654 96-Core Processor", 360, 192},
    {R"(Platinum 8480\+)", "Intel(R) Xeon(R) Platinum 8480+", 350, 112},
    {R"(Platinum 8380(?!\w))", "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", 270, 80},
    {R"(Platinum 8280(?!\w))", "Intel(R) Xeon(R) Platinum 8280 CPU @ 2.70GHz", 205, 56},
    {R"(Gold 6248(?!\w))", "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 150, 40},
    {R"(Gold 6248R(?!\w))", "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", 205, 48},
    {R"(E5-2683 v4(?!\w))", "Intel(R) Xeon(R) CPU E5-2683 v4 @ 2.10GHz", 120, 32},
    {R"(E5-2690 v4(?!\w))", "Intel(R) Xeon(R) CPU E5-2690 v4 @ 2.60GHz", 135, 28},
    // Desktops and laptops.
    {R"(i9-9900K(?!\w))", "Intel(R) Core(TM) i9-9900K CPU @ 3.60GHz", 95, 16},
    {R"(i7-8700K(?!\w))", "Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", 95, 12},
    {R"(i5-8250U(?!\w))", "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", 15, 8},
    {R"(Ryzen 9 5950X(?!\w))", "AMD Ryzen 9 5950X 16-Core Processor", 105, 32},
    {R"(Ryzen 5 3600(?!\w))", "AMD Ryzen 5 3600 6-Core Processor", 65, 12},
};

const std::vector<std::regex>& CompiledPatterns() {
  static const std::vector<std::regex> compiled = [] {
    std::vector<std::regex> out;
    for (const CpuPowerRow& row : kRows) out.emplace_back(row.pattern, std::regex::ECMAScript);
    return out;
  }();
  return compiled;
}

}  // namespace

std::span<const CpuPowerRow> CpuPowerTable() { return kRows; }

const CpuPowerRow* FindCpuPower(std::string_view model_name) {
  const std::vector<std::regex>& patterns = CompiledPatterns();
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (std::regex_search(model_name.begin(), model_name.end(), patterns[i])) return &kRows[i];
  }
  return nullptr;
}

Result<std::string> ReadCpuModel(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error(path + ": cannot be read");
  std::string line;
  while (std::getline(in, line)) {
    // "model name\t: AMD EPYC 7763 64-Core Processor"
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const size_t begin = line.find_first_not_of(" \t", colon + 1);
    if (begin == std::string::npos) continue;
    const size_t end = line.find_last_not_of(" \t\r");
    return line.substr(begin, end - begin + 1);
  }
  return Status::Error(path + ": no \"model name\" line");
}

}  // namespace joulecast
