// The flag rows `analyze` and `gate` share: the profile (--profile), what to load (--batch,
// --input, --strict) and what run to predict (--samples, --epochs, --precision, --region,
// --carbon-intensity).
#pragma once

#include <string>
#include <vector>

#include "analyzer/analysis.h"
#include "cli/flags.h"

namespace joulecast::cli {

/// --batch, --input, --samples, --epochs, --precision, --region and --carbon-intensity, writing
/// to `request`, with their help.
std::vector<Flag> AnalysisFlags(AnalysisRequest* request);

/// --region CODE and --carbon-intensity G, writing to `carbon`.
std::vector<Flag> CarbonFlags(CarbonRequest* carbon);

/// The shipped carbon table: $JOULECAST_DATA_DIR/carbon/grid_intensity.json, else the source
/// tree's data/ folder this binary was built from.
std::string CarbonTablePath();

/// --profile P, with the command's own help.
Flag ProfileFlag(AnalysisRequest* request, std::string help);

/// --strict.
Flag StrictFlag(AnalysisRequest* request);

/// The command line of `analyze` and `gate`: the command's `own` rows (--profile among them),
/// AnalysisFlags, `format`, -o FILE into `output` and --strict, help at column 18, and MODEL
/// into request->model.
CommandLine AnalysisCommandLine(std::string command, std::string usage, std::vector<Flag> own,
                                Flag format, AnalysisRequest* request, std::string* output);

}  // namespace joulecast::cli
