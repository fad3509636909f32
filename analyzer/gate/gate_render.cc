#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "analyzer/gate/gate.h"
#include "analyzer/gate/gate_internal.h"
#include "analyzer/report/format.h"

namespace joulecast::gate {

namespace {

using nlohmann::ordered_json;

// Margin as words: "35.6% left", "9.0% over".
std::string MarginWords(double margin) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f%% %s", 100 * (margin < 0 ? -margin : margin),
                margin < 0 ? "over" : "left");
  return buf;
}

// "budget" or "baseline", as in checks[].name.
const char* CheckName(const Check& c) {
  return c.kind == CheckKind::budget ? "budget" : "baseline";
}

// What a check limits, in words: "whole-run energy within 1kJ".
std::string CheckTitle(const Check& c, const GateOptions& o) {
  std::string what = LevelPhrase(c.level) +
                     (c.quantity == Quantity::energy ? " energy" : " emissions") +
                     (o.conservative ? " (upper bound)" : "");
  if (c.kind == CheckKind::budget) return what + " within " + o.budget->text;
  return what + " at most " + AllowedPercent(o.max_increase) + " over baseline " +
         FormatAmount(c.reference, c.display_unit) + " (" + o.baseline->source + ")";
}

std::string Steps(const TrainingRun& r, int64_t steps) {
  return "batch " + std::to_string(r.batch) + ", " + std::to_string(r.samples) + " samples x " +
         std::to_string(r.epochs) + (r.epochs == 1 ? " epoch" : " epochs") + " = " +
         std::to_string(steps) + " steps";
}

std::string Interval(const Bounded& b) {
  return FormatAmount(b.mid.energy_j, BudgetUnit::J) + " (" +
         FormatAmount(b.low.energy_j, BudgetUnit::J) + " to " +
         FormatAmount(b.high.energy_j, BudgetUnit::J) + ")";
}

std::string Hardware(const ProfileInfo& p) {
  std::string out = "device " + p.device;
  for (const char* key : {"cpu_model", "gpu", "threads"}) {
    auto it = p.hardware.find(key);
    if (it != p.hardware.end()) out += std::string(", ") + key + " " + it->second;
  }
  return out;
}

std::string MeterLine(const ProfileInfo& p) {
  return "meter " + p.meter_kind + ": " +
         (p.meter_description.empty() ? std::string("no description") : p.meter_description) +
         (p.meter_real ? " (a hardware counter)"
                       : "; energies from it are estimated, not measured");
}

std::string ProfileLine(const ProfileInfo& p) {
  return "profile " + p.source + (p.is_default ? " (the default: no --profile given)" : "") + ", " +
         Hardware(p);
}

// ---- text ----

// Display width of UTF-8 text: code points, not bytes.
size_t Width(const std::string& s) {
  size_t w = 0;
  for (unsigned char ch : s) w += (ch & 0xC0) != 0x80;
  return w;
}

std::string Pad(const std::string& s, size_t width) {
  return s + std::string(width > Width(s) ? width - Width(s) : 0, ' ');
}

std::string Text(const GateResult& r) {
  const Subject& s = r.subject;
  const RunPrediction& run = s.run;
  std::string out = std::string("joulecast gate: ") + (r.pass ? "OK" : "FAIL") + "\n";
  out += "model " + s.model_name + " (" + s.model_source + "), " + Steps(run.run, run.steps) + "\n";
  out += "predicted energy per step " + Interval(run.per_step) + ", per epoch " +
         Interval(run.per_epoch) + ", whole run " + Interval(run.total) + "\n";
  out +=
      "whole-run emissions " +
      FormatAmount(GramsCo2e(run.total.mid.energy_j, run.run.carbon_g_per_kwh), BudgetUnit::gCO2e) +
      " at " + FormatAmount(run.run.carbon_g_per_kwh, BudgetUnit::gCO2e) + "/kWh\n";
  if (!s.training.empty()) out += "training " + s.training + "\n";
  if (!s.carbon.empty()) out += "carbon intensity " + s.carbon + "\n";
  out += "\n";
  std::vector<std::vector<std::string>> rows = {
      {"check", "level", "limit", "predicted", "margin", "result"}};
  for (const Check& c : r.checks) {
    rows.push_back({CheckName(c), std::string(LevelName(c.level)),
                    FormatAmount(c.limit, c.display_unit), FormatAmount(c.value, c.display_unit),
                    report::SignedPercent(c.margin), c.pass ? "pass" : "FAIL"});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], Width(row[i]));
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) line += (i ? "  " : "") + Pad(row[i], width[i]);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  out += "\n";
  for (const Check& c : r.checks) {
    out += std::string(c.pass ? "pass " : "FAIL ") + CheckName(c) + ": " + c.message + "\n";
  }
  for (const std::string& w : r.warnings) out += "warning: " + w + "\n";
  out += ProfileLine(s.profile) + "\n" + MeterLine(s.profile) + "\n";
  return out;
}

// ---- markdown ----

// Plain text safe inside markdown and a table cell.
std::string Md(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '\n' || ch == '\r') {
      out += ' ';
      continue;
    }
    if (std::string_view("\\`*_[]<>|#~").find(ch) != std::string_view::npos) out += '\\';
    out += ch;
  }
  return out;
}

std::string Markdown(const GateResult& r) {
  const Subject& s = r.subject;
  const RunPrediction& run = s.run;
  size_t failed = 0;
  for (const Check& c : r.checks) failed += !c.pass;
  const std::string checks =
      std::to_string(r.checks.size()) + (r.checks.size() == 1 ? " check" : " checks");
  std::string out = "### joulecast gate: ";
  out += r.pass ? "\xE2\x9C\x85 passed (" + checks + ")"
                : "\xE2\x9D\x8C failed (" + std::to_string(failed) + " of " + checks + ")";
  out += "\n\n";
  out += "| check | limit | predicted | margin | result |\n";
  out += "| :--- | ---: | ---: | ---: | :---: |\n";
  for (const Check& c : r.checks) {
    out += "| " + Md(std::string(CheckName(c)) + ": " + CheckTitle(c, r.options)) + " | " +
           Md(FormatAmount(c.limit, c.display_unit)) + " | " +
           Md(FormatAmount(c.value, c.display_unit)) + " | " + MarginWords(c.margin) + " | " +
           (c.pass ? "\xE2\x9C\x85" : "\xE2\x9D\x8C") + " |\n";
  }
  out += "\n";
  for (const std::string& w : r.warnings) out += "> **Warning:** " + Md(w) + "\n>\n";
  if (!r.warnings.empty()) {
    out.resize(out.size() - 2);
    out += "\n";
  }
  out += "Model **" + Md(s.model_name) + "** (" + Md(s.model_source) + "), " +
         Md(Steps(run.run, run.steps)) + ". Predicted energy per step " +
         Md(Interval(run.per_step)) + ", whole run " + Md(Interval(run.total)) + ", " +
         Md(FormatAmount(GramsCo2e(run.total.mid.energy_j, run.run.carbon_g_per_kwh),
                         BudgetUnit::gCO2e)) +
         " at " + Md(FormatAmount(run.run.carbon_g_per_kwh, BudgetUnit::gCO2e)) + "/kWh.\n\n";
  if (!s.training.empty()) out += "Training: " + Md(s.training) + ".\n\n";
  if (!s.carbon.empty()) out += "Carbon intensity " + Md(s.carbon) + ".\n\n";
  out += "Profile " + Md(s.profile.source) +
         (s.profile.is_default ? " (the default: no --profile given)" : "") + ", " +
         Md(Hardware(s.profile)) + "; meter " + Md(s.profile.meter_kind) + ": " +
         Md(s.profile.meter_description) + ". " +
         (s.profile.meter_real ? "Energies rest on a hardware counter."
                               : "**These energies are estimated, not measured.**") +
         "\n";
  return out;
}

// ---- JUnit XML ----

std::string Attr(const char* name, const std::string& value) {
  return std::string(" ") + name + "=\"" + XmlEscape(value) + "\"";
}

std::string Junit(const GateResult& r) {
  const Subject& s = r.subject;
  size_t failures = 0;
  for (const Check& c : r.checks) failures += !c.pass;
  const std::string counts = Attr("tests", std::to_string(r.checks.size())) +
                             Attr("failures", std::to_string(failures)) + Attr("errors", "0");
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites" + Attr("name", "joulecast gate") + counts + ">\n";
  out += "  <testsuite" + Attr("name", "joulecast gate") + counts + Attr("skipped", "0") +
         Attr("time", "0") + ">\n";
  out += "    <properties>\n";
  auto property = [&](const char* name, const std::string& value) {
    out += "      <property" + Attr("name", name) + Attr("value", value) + "/>\n";
  };
  property("model", s.model_name);
  property("model_source", s.model_source);
  property("profile", s.profile.source);
  property("hardware", Hardware(s.profile));
  property("meter", s.profile.meter_kind + (s.profile.meter_real ? " (a hardware counter)"
                                                                 : " (estimated, not measured)"));
  out += "    </properties>\n";
  for (const Check& c : r.checks) {
    out += "    <testcase" + Attr("classname", "joulecast.gate." + s.model_name) +
           Attr("name", std::string(CheckName(c)) + ": " + CheckTitle(c, r.options)) +
           Attr("time", "0");
    const std::string detail = "limit " + FormatAmount(c.limit, c.display_unit) + ", predicted " +
                               FormatAmount(c.value, c.display_unit) + ", margin " +
                               report::SignedPercent(c.margin);
    if (c.pass) {
      out += ">\n      <system-out>" + XmlEscape(c.message) + "</system-out>\n    </testcase>\n";
    } else {
      out += ">\n      <failure" + Attr("message", c.message) +
             Attr("type", c.kind == CheckKind::budget ? "over budget" : "over baseline") + ">" +
             XmlEscape(detail) + "</failure>\n    </testcase>\n";
    }
  }
  std::string log;
  for (const std::string& w : r.warnings) log += "warning: " + w + "\n";
  log += ProfileLine(s.profile) + "\n" + MeterLine(s.profile) + "\n";
  out += "    <system-out>" + XmlEscape(log) + "</system-out>\n";
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

// ---- JSON ----

ordered_json LevelJson(const Bounded& b, double g_per_kwh) {
  return {{"energy_j", b.mid.energy_j},
          {"energy_j_low", b.low.energy_j},
          {"energy_j_high", b.high.energy_j},
          {"time_s", b.mid.time_s},
          {"kwh", KilowattHours(b.mid.energy_j)},
          {"gco2e", GramsCo2e(b.mid.energy_j, g_per_kwh)},
          {"gco2e_low", GramsCo2e(b.low.energy_j, g_per_kwh)},
          {"gco2e_high", GramsCo2e(b.high.energy_j, g_per_kwh)}};
}

std::string Json(const GateResult& r) {
  const Subject& s = r.subject;
  const RunPrediction& run = s.run;
  ordered_json j;
  j["schema"] = "joulecast.gate/1";
  j["pass"] = r.pass;
  j["level"] = LevelName(r.options.level);
  j["conservative"] = r.options.conservative;
  ordered_json checks = ordered_json::array();
  for (const Check& c : r.checks) {
    ordered_json k;
    k["name"] = CheckName(c);
    k["level"] = LevelName(c.level);
    k["quantity"] = c.quantity == Quantity::energy ? "energy" : "emissions";
    k["limit"] = c.limit;
    k["value"] = c.value;
    k["unit"] = c.quantity == Quantity::energy ? "J" : "gCO2e";
    k["margin"] = c.margin;
    k["pass"] = c.pass;
    k["message"] = c.message;
    if (c.kind == CheckKind::budget) {
      k["budget"] = r.options.budget->text;
    } else {
      const Baseline& b = *r.options.baseline;
      k["baseline"] = {{"source", b.source},   {"model", b.model_name}, {"batch", b.batch},
                       {"samples", b.samples}, {"epochs", b.epochs},    {"value", c.reference}};
      k["max_increase"] = r.options.max_increase;
      k["increase"] = c.reference > 0 ? c.value / c.reference - 1 : 0.0;
    }
    checks.push_back(k);
  }
  j["checks"] = checks;
  j["warnings"] = r.warnings;
  j["model"] = {{"name", s.model_name}, {"source", s.model_source}, {"batch", run.run.batch}};
  const double g = run.run.carbon_g_per_kwh;
  j["prediction"] = {{"run",
                      {{"batch", run.run.batch},
                       {"samples", run.run.samples},
                       {"epochs", run.run.epochs},
                       {"steps_per_epoch", run.steps_per_epoch},
                       {"steps", run.steps},
                       {"carbon_intensity_g_per_kwh", g},
                       {"carbon_intensity_from", s.carbon},
                       {"training_from", s.training}}},
                     {"per_step", LevelJson(run.per_step, g)},
                     {"per_epoch", LevelJson(run.per_epoch, g)},
                     {"total", LevelJson(run.total, g)}};
  ordered_json hw = ordered_json::object();
  for (const auto& [k, v] : s.profile.hardware) hw[k] = v;
  j["profile"] = {{"source", s.profile.source},
                  {"default", s.profile.is_default},
                  {"created", s.profile.created},
                  {"device", s.profile.device},
                  {"hardware", hw},
                  {"meter",
                   {{"kind", s.profile.meter_kind},
                    {"real", s.profile.meter_real},
                    {"description", s.profile.meter_description}}}};
  // Replace invalid UTF-8 in names from model files rather than throwing.
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  static const char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char ch = static_cast<unsigned char>(text[i]);
    if (ch < 0x80) {
      switch (ch) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&apos;";
          break;
        case '\t':
          out += "&#9;";
          break;
        case '\n':
          out += "&#10;";
          break;
        case '\r':
          out += "&#13;";
          break;
        default:
          out += ch < 0x20 ? kReplacement : std::string(1, static_cast<char>(ch));
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: its length, the smallest code point it may encode, then continuations.
    size_t len = 0;
    char32_t cp = 0, min = 0;
    if ((ch & 0xE0) == 0xC0) {
      len = 2, cp = ch & 0x1F, min = 0x80;
    } else if ((ch & 0xF0) == 0xE0) {
      len = 3, cp = ch & 0x0F, min = 0x800;
    } else if ((ch & 0xF8) == 0xF0) {
      len = 4, cp = ch & 0x07, min = 0x10000;
    }
    bool valid = len > 0 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k) {
      const unsigned char cont = static_cast<unsigned char>(text[i + k]);
      valid = (cont & 0xC0) == 0x80;
      cp = (cp << 6) | (cont & 0x3F);
    }
    valid = valid && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF) &&
            cp != 0xFFFE && cp != 0xFFFF;
    if (valid) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

std::string RenderGate(const GateResult& result, GateFormat format) {
  switch (format) {
    case GateFormat::text:
      return Text(result);
    case GateFormat::markdown:
      return Markdown(result);
    case GateFormat::junit:
      return Junit(result);
    case GateFormat::json:
      return Json(result);
  }
  return Text(result);
}

}  // namespace joulecast::gate
