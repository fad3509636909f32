// Renders an analysis (the IR graph and its costs) for people and for scripts.
//
// Text is a readable table; markdown suits a pull-request comment; JSON follows the stable
// schema "joulecast.analysis/1" documented in docs/analysis-json.md. Rendering never fails.
#pragma once

#include <string>

#include "analyzer/core/costs.h"
#include "analyzer/core/ir.h"

namespace joulecast {

enum class ReportFormat { text, markdown, json };

/// Renders `cost` of `graph` in `format`. REQUIRES: cost computed from graph.
std::string RenderReport(const Graph& graph, const ModelCost& cost, ReportFormat format);

}  // namespace joulecast
