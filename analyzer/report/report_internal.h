// Shared between the report renderers; not part of the library's interface.
#pragma once

#include <string>

#include "analyzer/report/report.h"

namespace joulecast::report {

std::string Json(const ReportInput& input);
/// Text table (`markdown` false) or markdown tables (`markdown` true).
std::string Table(const ReportInput& input, bool markdown);
/// One self-contained HTML page with SVG charts.
std::string Html(const ReportInput& input);

}  // namespace joulecast::report
