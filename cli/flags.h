// Parsing of flag values shared by the subcommands. Each parser accepts exactly the documented
// form and returns nullopt for anything else, so a command can name the flag in its error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace joulecast::cli {

/// A decimal integer in [min, max], digits only ("12"; not "+12", " 12" or "1e3").
std::optional<int64_t> IntIn(const std::string& s, int64_t min, int64_t max);

/// A finite number > 0 ("0.001", "1e-3").
std::optional<double> PositiveReal(const std::string& s);

/// Dims written CxHxW ("3x224x224"), each in [1, 2^20].
std::optional<std::vector<int64_t>> DimsArg(const std::string& s);

}  // namespace joulecast::cli
