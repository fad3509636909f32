// The flags `analyze` and `gate` share: the profile (--profile), what to load (--batch, --input,
// --strict) and what run to predict (--samples, --epochs, --carbon-intensity).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "analyzer/analysis.h"

namespace joulecast::cli {

/// Reads the next argument, nullopt when there is none.
using NextValue = std::function<std::optional<std::string>()>;

/// If `flag` is one of the shared flags, reads its value with `next` into `request` and returns
/// "" (or a one-line error); returns nullopt for any other flag, reading nothing.
std::optional<std::string> ParseAnalysisFlag(const std::string& flag, const NextValue& next,
                                             AnalysisRequest& request);

/// Help lines for the shared flags but --profile and --strict, which each command words itself.
extern const char* const kAnalysisFlagsHelp;

}  // namespace joulecast::cli
