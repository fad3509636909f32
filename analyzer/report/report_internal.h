// Shared between the report renderers; not part of the library's interface.
#pragma once

#include <string>

#include "analyzer/core/costs.h"
#include "analyzer/core/ir.h"

namespace joulecast::report {

std::string Json(const Graph& graph, const ModelCost& cost);
/// Text table (`markdown` false) or markdown tables (`markdown` true).
std::string Table(const Graph& graph, const ModelCost& cost, bool markdown);

}  // namespace joulecast::report
