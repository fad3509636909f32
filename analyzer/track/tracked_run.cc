#include "analyzer/track/tracked_run.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "analyzer/energy/predict.h"
#include "analyzer/report/format.h"

namespace joulecast::track {

namespace {

using nlohmann::ordered_json;
using report::Duration;
using report::Emissions;
using report::Quantity;
using report::WattHours;

std::string Energy(double j) { return Quantity(j, "J") + " (" + WattHours(j) + ")"; }

bool Outside(const TrackedRun& r) {
  return r.prediction && (r.energy_j < r.prediction->low_j || r.energy_j > r.prediction->high_j);
}

std::string Settings(const ResolvedTraining& t) {
  auto from = [](SettingSource s) { return std::string(" (") + SettingSourceName(s) + ")"; };
  return "batch " + std::to_string(t.batch.value) + from(t.batch.source) + ", " +
         std::to_string(t.epochs.value) + " epochs" + from(t.epochs.source) + " of " +
         report::Grouped(t.samples.value) + " samples" + from(t.samples.source) + ", " +
         t.precision.value + from(t.precision.source);
}

std::string Text(const TrackedRun& r, bool md) {
  const std::string b = md ? "**" : "";
  const std::string indent = md ? "- " : "  ";
  std::string out = md ? "### joulecast track\n\n" : "";
  out += (md ? "Command `" : "command   ") + CommandLineOf(r.command) + (md ? "`\n\n" : "\n");
  out += (md ? "- status: " : "status    ") + b + RunStatusName(r.status) + b + ", exit code " +
         std::to_string(r.exit_code) +
         (r.status == RunStatus::interrupted ? " (the measurement covers the run until it stopped)"
                                             : "") +
         "\n";
  out += (md ? "- duration: " : "duration  ") + Duration(r.duration_s) + "\n";
  out += (md ? "- energy: " : "energy    ") + b + Energy(r.energy_j) + b +
         (r.meter_real ? "" : ", estimated, not measured") + "\n";
  if (r.duration_s > 0) {
    out += (md ? "- mean power: " : "power     ") + Quantity(r.energy_j / r.duration_s, "W") + "\n";
  }
  out += (md ? "- emissions: " : "emissions ") +
         Emissions(GramsCo2e(r.energy_j, r.carbon.g_per_kwh)) + " at " + r.carbon.Describe() + "\n";
  out += md ? "- per device:\n" : "devices\n";
  for (const DeviceEnergy& d : r.devices) {
    out += (md ? "  - " : indent) + d.device + "  " + Energy(d.energy_j) + "  " + d.kind + ": " +
           d.description + "\n";
  }
  out += (md ? "- meter: " : "meter     ") + r.meter +
         (r.meter_real ? " (hardware counters)" : " (an estimate, not a measurement)") +
         (r.meter_why.empty() ? "" : "; " + r.meter_why) + "\n";
  if (r.prediction) {
    const TrackPrediction& p = *r.prediction;
    out += md ? "\n#### Prediction\n\n" : "\nprediction\n";
    out += indent + "model " + p.model_name + " (" + p.model + "), " + Settings(p.training) + "\n";
    out += indent + "predicted " + Energy(p.energy_j) + ", interval " + Quantity(p.low_j, "J") +
           " to " + Quantity(p.high_j, "J") + ", time " + Duration(p.time_s) + "\n";
    std::optional<double> diff = RelativeDifference(r);
    out += indent + "measured " + Quantity(r.energy_j, "J") +
           (diff ? ": " + report::SignedPercent(*diff) + " against the prediction" : "") + "\n";
    out += indent +
           (Outside(r) ? b + "outside the prediction interval" + b
                       : std::string("within the prediction interval")) +
           (r.status == RunStatus::ok ? "" : " (the run did not complete)") + "\n";
    out += indent + "profile " + p.profile +
           (p.profile_real ? "" : " (calibrated with the estimate meter)") + "\n";
  }
  return out;
}

ordered_json Json(const TrackedRun& r) {
  ordered_json devices = ordered_json::array();
  for (const DeviceEnergy& d : r.devices) {
    devices.push_back({{"device", d.device},
                       {"kind", d.kind},
                       {"real", d.real},
                       {"description", d.description},
                       {"energy_j", d.energy_j}});
  }
  ordered_json carbon = {{"g_per_kwh", r.carbon.g_per_kwh}, {"from", r.carbon.FromName()}};
  if (r.carbon.from == CarbonIntensity::From::region) {
    carbon["region"] = r.carbon.region;
    carbon["region_name"] = r.carbon.region_name;
    carbon["year"] = r.carbon.year;
    carbon["source"] = r.carbon.source;
  }
  ordered_json j = {
      {"schema", "joulecast.track/1"},
      {"command", r.command},
      {"started", r.started_utc},
      {"status", RunStatusName(r.status)},
      {"exit_code", r.exit_code},
      {"duration_s", r.duration_s},
      {"energy_j", r.energy_j},
      {"kwh", KilowattHours(r.energy_j)},
      {"gco2e", GramsCo2e(r.energy_j, r.carbon.g_per_kwh)},
      {"carbon", carbon},
      {"meter", {{"kind", r.meter}, {"real", r.meter_real}, {"selection", r.meter_why}}},
      {"devices", devices},
  };
  if (!r.meter_real) j["meter"]["note"] = "estimated, not measured";
  if (r.prediction) {
    const TrackPrediction& p = *r.prediction;
    auto setting = [](const auto& v) {
      return ordered_json{{"value", v.value}, {"source", SettingSourceName(v.source)}};
    };
    std::optional<double> diff = RelativeDifference(r);
    j["prediction"] = {
        {"model", p.model},
        {"model_name", p.model_name},
        {"profile", p.profile},
        {"profile_real", p.profile_real},
        {"energy_j", p.energy_j},
        {"energy_j_low", p.low_j},
        {"energy_j_high", p.high_j},
        {"time_s", p.time_s},
        {"training",
         {{"batch", setting(p.training.batch)},
          {"epochs", setting(p.training.epochs)},
          {"samples", setting(p.training.samples)},
          {"optimizer", setting(p.training.optimizer)},
          {"precision", setting(p.training.precision)}}},
        {"difference", diff ? ordered_json(*diff) : ordered_json(nullptr)},
        {"outside_interval", Outside(r)},
    };
  }
  return j;
}

}  // namespace

const char* RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::ok:
      return "ok";
    case RunStatus::failed:
      return "failed";
    case RunStatus::interrupted:
      return "interrupted";
  }
  return "failed";
}

std::optional<double> RelativeDifference(const TrackedRun& run) {
  if (!run.prediction || !(run.prediction->energy_j > 0)) return std::nullopt;
  return run.energy_j / run.prediction->energy_j - 1;
}

std::string CommandLineOf(const std::vector<std::string>& command) {
  std::string out;
  for (const std::string& arg : command) {
    bool plain = !arg.empty();
    for (char c : arg) {
      plain &= std::isalnum(static_cast<unsigned char>(c)) ||
               std::string("-_./=:,+%@").find(c) != std::string::npos;
    }
    std::string quoted = arg;
    if (!plain) {
      quoted = "'";
      for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      quoted += "'";
    }
    out += (out.empty() ? "" : " ") + quoted;
  }
  return out;
}

std::string RenderTrackedRun(const TrackedRun& run, TrackFormat format) {
  switch (format) {
    case TrackFormat::json:
      return Json(run).dump(2) + "\n";
    case TrackFormat::markdown:
      return Text(run, true);
    case TrackFormat::text:
      break;
  }
  return Text(run, false);
}

}  // namespace joulecast::track
