// Self-contained SVG charts for the HTML report: inline markup with no script, no font and no
// resource from anywhere else, so the report opens offline and can be mailed as one file.
//
// Every string passed in is plain text and is escaped here. Geometry is in CSS pixels; charts
// carry their own font and colours, so one can be cut out and saved as an .svg file. Tests and
// scripts find the parts by markup: the <svg> has the given id, each segment is
// <rect class="segment" data-kind=... data-share=...>, each bar <rect class="bar" data-kind=...>.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace joulecast::report {

/// Escapes text for HTML or SVG element content and quoted attribute values: & < > " '.
std::string Escape(std::string_view text);

/// A coordinate or length as charts write it: at most two decimals, trailing zeros dropped,
/// "-0" written "0" ("12.5", "3").
std::string Coordinate(double v);

/// A value as data- attributes and axis labels write it: six significant digits (%.6g).
std::string Real(double v);

/// `text` (UTF-8) cut to at most `max_chars` code points, keeping its tail behind a leading "…"
/// (the end of a layer name, "…/layer1.0/conv1/Conv", tells the most). REQUIRES: max_chars > 1.
std::string TailEllipsis(std::string_view text, size_t max_chars);

/// One segment of a stacked bar or one bar of a bar chart.
struct ChartItem {
  std::string label;       ///< Beside the bar, or in the legend.
  std::string kind;        ///< Its data-kind attribute (the layer kind, "overhead", ...).
  std::string colour;      ///< "#rrggbb".
  double value = 0;        ///< Non-negative; sets the length.
  std::string value_text;  ///< The value as shown: "12.3 mJ".
  std::string tooltip;     ///< The SVG <title>: shown on hover.
};

/// One horizontal bar split into a segment per item with a positive value, in order, each
/// labelled with its share when wide enough, and a legend under it (colour, label, share of
/// the sum, value_text). `title` is the chart's accessible name. Items of value 0 are left out.
std::string StackedBarChart(std::string_view id, std::string_view title,
                            const std::vector<ChartItem>& items);

/// One row per item, in order: the label (cut to fit; the tooltip keeps it whole), a bar scaled
/// to the largest value (at least 1 px when positive) and value_text. Grows 20 px per row.
std::string BarChart(std::string_view id, std::string_view title,
                     const std::vector<ChartItem>& items);

}  // namespace joulecast::report
