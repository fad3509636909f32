#include "analyzer/report/report.h"

#include "analyzer/report/report_internal.h"

namespace joulecast {

std::string RenderReport(const Graph& graph, const ModelCost& cost, ReportFormat format) {
  switch (format) {
    case ReportFormat::json: return report::Json(graph, cost);
    case ReportFormat::markdown: return report::Table(graph, cost, true);
    case ReportFormat::text: break;
  }
  return report::Table(graph, cost, false);
}

}  // namespace joulecast
