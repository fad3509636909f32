#include "common/html_page.h"

namespace joulecast {

namespace {

constexpr const char* kStyle = R"(
:root { color-scheme: light; }
body { margin: 0; background: #eef0f3; color: #1d2330;
       font: 15px/1.5 "DejaVu Sans", system-ui, "Segoe UI", Helvetica, Arial, sans-serif; }
/* 960 px of content: the width the charts are drawn at (svg.cc). */
main { max-width: 960px; margin: 0 auto; padding: 24px 32px 40px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #dde1e7; }
.sub, .note, footer { color: #4f5766; }
.note, footer { font-size: 13px; }
code { font: 13px "DejaVu Sans Mono", Menlo, Consolas, monospace; background: #f1f3f6;
       padding: 1px 4px; border-radius: 3px; }
.notice { border-left: 5px solid #d08700; background: #fff4da; padding: 10px 14px; margin: 12px 0; }
.notice.none { border-color: #8a8f98; background: #f1f3f6; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 14px 0; }
.card { flex: 1 1 170px; border: 1px solid #dde1e7; border-radius: 6px; padding: 10px 14px; }
.card b { display: block; font-size: 22px; }
.card span { color: #4f5766; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e6eb; text-align: left; }
th { background: #f1f3f6; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 18px; margin: 8px 0; }
dt { color: #4f5766; }
dd { margin: 0; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 10px 0; }
.keys span { display: inline-block; margin-right: 14px; font-size: 13px; }
.keys i { display: inline-block; width: 11px; height: 11px; margin-right: 5px; vertical-align: -1px; }
summary { cursor: pointer; font-weight: bold; }
footer { margin-top: 36px; }
)";

}  // namespace

std::string HtmlPage(std::string_view title, std::string_view subtitle, std::string_view sections,
                     std::string_view footer, std::string_view extra_css) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>joulecast: ";
  out.append(title).append("</title>\n<style>").append(kStyle).append(extra_css);
  out.append("</style>\n</head>\n<body>\n<main>\n<header>\n<h1>").append(title);
  out.append("</h1>\n<p class=\"sub\">").append(subtitle).append("</p>\n</header>\n");
  out.append(sections).append("<footer>").append(footer);
  out.append("</footer>\n</main>\n</body>\n</html>\n");
  return out;
}

}  // namespace joulecast
