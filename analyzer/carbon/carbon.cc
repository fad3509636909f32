#include "analyzer/carbon/carbon.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "analyzer/energy/predict.h"
#include "common/json_fields.h"
#include "common/read_file.h"

namespace joulecast {

static_assert(kWorldCarbonIntensity == kDefaultCarbonIntensity,
              "the analyzer's default intensity is the world average");

namespace {

using Json = nlohmann::json;
using json_fields::FieldError;
using json_fields::Fields;

constexpr size_t kMaxTableBytes = size_t{4} << 20;

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Grams(double g) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g gCO2e/kWh", g);
  return buf;
}

// Finds `wanted` (upper case) among the rows; throws FieldError for a malformed table.
std::optional<CarbonIntensity> Find(const Json& doc, const std::string& wanted) {
  Fields top(doc, "");
  if (!top.Find("schema") || *top.Find("schema") != "joulecast.carbon/1") {
    throw FieldError("/schema", "expected \"joulecast.carbon/1\"");
  }
  const Json* sources = top.Find("sources");
  const Json* regions = top.Find("regions");
  if (!sources || !sources->is_object()) throw FieldError("/sources", "expected an object");
  if (!regions || !regions->is_array()) throw FieldError("/regions", "expected an array");
  for (size_t i = 0; i < regions->size(); ++i) {
    Fields row((*regions)[i], json_fields::Pointer("/regions", i));
    const std::string code = row.Text("code");
    const Json* alpha3 = row.Find("alpha3");
    const bool match = Upper(code) == wanted || (alpha3 && alpha3->is_string() &&
                                                 Upper(alpha3->get<std::string>()) == wanted);
    if (!match) continue;
    CarbonIntensity c;
    c.from = CarbonIntensity::From::region;
    c.region = code;
    c.region_name = row.Text("name");
    c.g_per_kwh = row.Number("g_per_kwh", 0, 10000, false, -1);
    if (c.g_per_kwh < 0) throw FieldError(row.At("g_per_kwh"), "missing required field");
    c.year = static_cast<int>(row.Int("year", 1900, 2200));
    const std::string source = row.Text("source");
    auto s = sources->find(source);
    if (s == sources->end() || !s->is_object() || !s->contains("name")) {
      throw FieldError(row.At("source"), "names no entry of /sources with a \"name\"");
    }
    c.source = (*s)["name"].get<std::string>();
    return c;
  }
  return std::nullopt;
}

}  // namespace

const char* CarbonIntensity::FromName() const {
  switch (from) {
    case From::world_default:
      return "world_default";
    case From::region:
      return "region";
    case From::flag:
      return "flag";
  }
  return "world_default";
}

std::string CarbonIntensity::Describe() const {
  switch (from) {
    case From::region:
      return Grams(g_per_kwh) + ": region " + region + " (" + region_name + "), " +
             std::to_string(year) + ", " + source;
    case From::flag:
      return Grams(g_per_kwh) + ": --carbon-intensity";
    case From::world_default:
      break;
  }
  return Grams(g_per_kwh) +
         ": the world average in 2023 (Ember, Global Electricity Review 2024), the default; "
         "--region CODE or --carbon-intensity G sets yours";
}

Result<CarbonIntensity> LookUpRegion(const std::string& table_path, const std::string& code) {
  std::string error;
  const std::optional<std::string> text = ReadFileUpTo(table_path, kMaxTableBytes, &error);
  if (!text) return Status::Error(table_path + ": " + error);
  try {
    const Json doc = Json::parse(*text);
    std::optional<CarbonIntensity> found = Find(doc, Upper(code));
    if (!found) {
      return Status::Error("--region " + json_fields::Quote(code) +
                           ": no such country or grid region in " + table_path +
                           " (ISO 3166-1 codes such as DE or DEU, or its grid regions such as "
                           "SE3; docs/carbon.md lists them)");
    }
    return *found;
  } catch (const FieldError& e) {
    return Status::Error(json_fields::ErrorLine(table_path, e.pointer(), e.what()));
  } catch (const std::exception& e) {
    return Status::Error(table_path + ": " + json_fields::OneLine(e.what()));
  }
}

Result<CarbonIntensity> ResolveCarbon(const CarbonRequest& request, const std::string& table_path) {
  CarbonIntensity c;
  if (request.region) {
    // Looked up even when the flag wins, so that a bad code is an error either way.
    Result<CarbonIntensity> region = LookUpRegion(table_path, *request.region);
    if (!region.ok()) return region.status();
    c = *region;
  }
  if (request.g_per_kwh) {
    c = CarbonIntensity{};
    c.g_per_kwh = *request.g_per_kwh;
    c.from = CarbonIntensity::From::flag;
  }
  return c;
}

}  // namespace joulecast
