// The page every HTML report of joulecast is (`analyze --format html`, `search --format html`):
// one self-contained file with no script, no font and nothing fetched, so that it opens offline
// and can be mailed. A header with the title and a subtitle, the report's sections, a footer,
// and one style sheet for all reports.
#pragma once

#include <string>
#include <string_view>

namespace joulecast {

/// One whole page. Every argument is markup that the caller has escaped: `title` heads the
/// page and names it ("joulecast: <title>"), `subtitle` is the line under the title,
/// `sections` the body and `footer` the closing line. `extra_css` follows the shared style
/// sheet, for rules of one report's own.
std::string HtmlPage(std::string_view title, std::string_view subtitle, std::string_view sections,
                     std::string_view footer, std::string_view extra_css = "");

}  // namespace joulecast
