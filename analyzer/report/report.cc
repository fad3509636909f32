#include "analyzer/report/report.h"

#include "analyzer/report/report_internal.h"

namespace joulecast {

std::string RenderReport(const ReportInput& input, ReportFormat format) {
  switch (format) {
    case ReportFormat::json: return report::Json(input);
    case ReportFormat::html: return report::Html(input);
    case ReportFormat::markdown: return report::Table(input, true);
    case ReportFormat::text: break;
  }
  return report::Table(input, false);
}

}  // namespace joulecast
