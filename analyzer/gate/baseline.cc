#include "analyzer/gate/baseline.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/json_fields.h"

namespace joulecast::gate {

namespace {

using nlohmann::json;

// Validation failures are thrown at a JSON pointer and caught at the edge of ParseBaseline.
using json_fields::FieldError;

// `ptr` is a view, not a const std::string&: GCC 13 warns (-Wdangling-reference) when a function
// returning a reference takes a temporary string.
const json& Member(const json& parent, std::string_view ptr, const char* key) {
  if (!parent.is_object() || !parent.contains(key)) {
    throw FieldError{std::string(ptr) + "/" + key, "is missing"};
  }
  return parent[key];
}

std::string String(const json& parent, const std::string& ptr, const char* key) {
  const json& v = Member(parent, ptr, key);
  if (!v.is_string()) throw FieldError{ptr + "/" + key, "must be a string"};
  return v.get<std::string>();
}

int64_t PositiveInt(const json& parent, const std::string& ptr, const char* key) {
  const json& v = Member(parent, ptr, key);
  if (!v.is_number_integer() || v.get<int64_t>() < 1) {
    throw FieldError{ptr + "/" + key, "must be an integer >= 1"};
  }
  return v.get<int64_t>();
}

double Energy(const json& parent, const std::string& ptr, const char* key) {
  const json& v = Member(parent, ptr, key);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0) {
    throw FieldError{ptr + "/" + key,
                     "must be a number > 0 (a relative limit needs a positive baseline)"};
  }
  return v.get<double>();
}

LevelEnergy ReadLevel(const json& prediction, const char* key) {
  const std::string ptr = std::string("/prediction/") + key;
  const json& level = Member(prediction, "/prediction", key);
  if (!level.is_object()) throw FieldError{ptr, "must be an object"};
  return {Energy(level, ptr, "energy_j"), Energy(level, ptr, "energy_j_low"),
          Energy(level, ptr, "energy_j_high")};
}

}  // namespace

const LevelEnergy& Baseline::At(Level level) const {
  switch (level) {
    case Level::step:
      return per_step;
    case Level::epoch:
      return per_epoch;
    case Level::run:
      return total;
  }
  return total;
}

Result<Baseline> ParseBaseline(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return Status::Error(source +
                         ": not valid JSON (expected a joulecast analyze --format json "
                         "report)");
  }
  try {
    if (!j.is_object()) throw FieldError{"", "must be an object"};
    const std::string schema = String(j, "", "schema");
    if (schema != "joulecast.analysis/1") {
      throw FieldError{"/schema", "is '" + schema +
                                      "'; a baseline is a joulecast.analysis/1 "
                                      "report (joulecast analyze --format json)"};
    }
    Baseline b;
    b.source = source;
    const json& model = Member(j, "", "model");
    b.model_name = String(model, "/model", "name");
    b.model_source = String(model, "/model", "source");
    if (!j.contains("prediction")) {
      throw FieldError{"/prediction",
                       "is missing: the report has no prediction (was a profile "
                       "found when it was made?)"};
    }
    const json& prediction = j["prediction"];
    if (!prediction.is_object()) throw FieldError{"/prediction", "must be an object"};
    const json& run = Member(prediction, "/prediction", "run");
    b.batch = PositiveInt(run, "/prediction/run", "batch");
    b.samples = PositiveInt(run, "/prediction/run", "samples");
    b.epochs = PositiveInt(run, "/prediction/run", "epochs");
    const json& profile = Member(prediction, "/prediction", "profile");
    b.profile_created = String(profile, "/prediction/profile", "created");
    b.profile_device = String(profile, "/prediction/profile", "device");
    b.per_step = ReadLevel(prediction, "per_step");
    b.per_epoch = ReadLevel(prediction, "per_epoch");
    b.total = ReadLevel(prediction, "total");
    return b;
  } catch (const FieldError& e) {
    return Status::Error(json_fields::SentenceLine(source, e));
  } catch (const json::exception& e) {
    return Status::Error(source + ": " + e.what());
  }
}

Result<Baseline> ReadBaseline(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::Error(path + ": is a directory, not a baseline report");
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(path + ": cannot open the baseline report");
  std::ostringstream text;
  text << f.rdbuf();
  if (f.bad()) return Status::Error(path + ": cannot read the baseline report");
  return ParseBaseline(text.str(), path);
}

}  // namespace joulecast::gate
