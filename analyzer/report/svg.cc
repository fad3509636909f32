#include "analyzer/report/svg.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace joulecast::report {

namespace {

constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";
constexpr const char* kMonoFont = "DejaVu Sans Mono, Menlo, Consolas, monospace";

std::string Fraction(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

// White or near-black, whichever reads better on "#rrggbb" (relative luminance, roughly).
const char* TextOn(const std::string& colour) {
  if (colour.size() != 7 || colour[0] != '#') return "#111111";
  long rgb = std::strtol(colour.c_str() + 1, nullptr, 16);
  double y = 0.2126 * ((rgb >> 16) & 0xff) + 0.7152 * ((rgb >> 8) & 0xff) + 0.0722 * (rgb & 0xff);
  return y < 140 ? "#ffffff" : "#111111";
}

std::string Open(std::string_view id, std::string_view title, double width, double height,
                 const char* extra) {
  std::string eid = Escape(id);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + eid +
         "\" class=\"chart\" role=\"img\"" + " aria-labelledby=\"" + eid + "-title\" width=\"" +
         Coordinate(width) + "\" height=\"" + Coordinate(height) + "\" viewBox=\"0 0 " +
         Coordinate(width) + " " + Coordinate(height) + "\" font-family=\"" + kFont +
         "\" font-size=\"12\"" + extra + ">\n<title id=\"" + eid + "-title\">" + Escape(title) +
         "</title>\n";
}

std::string Text(double x, double y, const char* anchor, std::string_view text,
                 const std::string& more = "") {
  return "<text x=\"" + Coordinate(x) + "\" y=\"" + Coordinate(y) + "\" text-anchor=\"" + anchor +
         "\"" + more + ">" + Escape(text) + "</text>";
}

}  // namespace

std::string Coordinate(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string Real(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string TailEllipsis(std::string_view text, size_t max_chars) {
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
  if (chars <= max_chars) return std::string(text);
  size_t skip = chars - (max_chars - 1), pos = 0;
  // Step over `skip` code points: stop at the lead byte of the first one kept.
  for (size_t seen = 0; pos < text.size(); ++pos) {
    if ((static_cast<unsigned char>(text[pos]) & 0xC0) != 0x80 && seen++ == skip) break;
  }
  return "\xE2\x80\xA6" + std::string(text.substr(pos));
}

std::string StackedBarChart(std::string_view id, std::string_view title,
                            const std::vector<ChartItem>& items) {
  constexpr double kWidth = 960, kBarY = 4, kBarH = 36, kLegendY = 58, kRowH = 22;
  double sum = 0;
  int shown = 0;
  for (const ChartItem& it : items) {
    if (it.value > 0) {
      sum += it.value;
      ++shown;
    }
  }
  double height = kLegendY + shown * kRowH + 4;
  std::string out = Open(id, title, kWidth, height, "");
  std::string legend;
  double x = 0, row_y = kLegendY;
  for (const ChartItem& it : items) {
    if (!(it.value > 0)) continue;
    double share = it.value / sum;
    double w = kWidth * share;
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.1f%%", 100 * share);
    out += "<g><title>" + Escape(it.tooltip) + "</title><rect class=\"segment\" data-kind=\"" +
           Escape(it.kind) + "\" data-share=\"" + Fraction(share) + "\" data-value=\"" +
           Real(it.value) + "\" x=\"" + Coordinate(x) + "\" y=\"" + Coordinate(kBarY) +
           "\" width=\"" + Coordinate(w) + "\" height=\"" + Coordinate(kBarH) + "\" fill=\"" +
           Escape(it.colour) + "\"/>";
    if (w >= 52) {
      out += Text(x + w / 2, kBarY + kBarH / 2 + 4, "middle", pct,
                  std::string(" font-weight=\"bold\" fill=\"") + TextOn(it.colour) + "\"");
    }
    out += "</g>\n";
    x += w;
    legend += "<g><title>" + Escape(it.tooltip) + "</title><rect class=\"swatch\" x=\"0\" y=\"" +
              Coordinate(row_y) + "\" width=\"14\" height=\"14\" fill=\"" + Escape(it.colour) +
              "\"/>" + Text(22, row_y + 12, "start", it.label) + Text(230, row_y + 12, "end", pct) +
              Text(350, row_y + 12, "end", it.value_text) + "</g>\n";
    row_y += kRowH;
  }
  return out + legend + "</svg>\n";
}

std::string BarChart(std::string_view id, std::string_view title,
                     const std::vector<ChartItem>& items) {
  // 40 code points of 12 px DejaVu Sans Mono (7.2 px each) fit the 300 px label column.
  constexpr double kWidth = 960, kLabelW = 300, kValueW = 110, kRowH = 20, kBarH = 14, kPad = 4;
  constexpr size_t kLabelChars = 40;
  double max = 0;
  for (const ChartItem& it : items) max = std::max(max, it.value);
  double height = kPad * 2 + kRowH * static_cast<double>(items.size());
  std::string out = Open(id, title, kWidth, height, "");
  const double area = kWidth - kLabelW - kValueW;
  double y = kPad;
  for (size_t i = 0; i < items.size(); ++i, y += kRowH) {
    const ChartItem& it = items[i];
    double w = max > 0 && it.value > 0 ? std::max(1.0, area * it.value / max) : 0.0;
    out += "<g><title>" + Escape(it.tooltip) + "</title>";
    if (i % 2 == 1) {
      out += "<rect class=\"stripe\" x=\"0\" y=\"" + Coordinate(y) + "\" width=\"" +
             Coordinate(kWidth) + "\" height=\"" + Coordinate(kRowH) + "\" fill=\"#f1f3f6\"/>";
    }
    out += Text(kLabelW - 8, y + kRowH / 2 + 4, "end", TailEllipsis(it.label, kLabelChars),
                std::string(" font-family=\"") + kMonoFont + "\"");
    out += "<rect class=\"bar\" data-kind=\"" + Escape(it.kind) + "\" data-value=\"" +
           Real(it.value) + "\" x=\"" + Coordinate(kLabelW) + "\" y=\"" +
           Coordinate(y + (kRowH - kBarH) / 2) + "\" width=\"" + Coordinate(w) + "\" height=\"" +
           Coordinate(kBarH) + "\" fill=\"" + Escape(it.colour) + "\"/>";
    out += Text(kLabelW + w + 6, y + kRowH / 2 + 4, "start", it.value_text) + "</g>\n";
  }
  out += "<line x1=\"" + Coordinate(kLabelW) + "\" y1=\"0\" x2=\"" + Coordinate(kLabelW) +
         "\" y2=\"" + Coordinate(height) + "\" stroke=\"#8a8f98\"/>\n";
  return out + "</svg>\n";
}

}  // namespace joulecast::report
