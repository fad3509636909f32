// The carbon intensity of the electricity a training run uses: a grid region's yearly average
// from the shipped table (data/carbon/grid_intensity.json, schema "joulecast.carbon/1"), a
// number the user gives, or the world average; with what it rests on, for reports.
#pragma once

#include <optional>
#include <string>

#include "analyzer/core/status.h"

namespace joulecast {

/// The world's average carbon intensity of electricity, 2023: 480 gCO2e/kWh (Ember, Global
/// Electricity Review 2024); the intensity when neither a region nor a number is given.
inline constexpr double kWorldCarbonIntensity = 480;

/// A carbon intensity and where it came from.
struct CarbonIntensity {
  /// How the intensity was chosen.
  enum class From { world_default, region, flag };
  double g_per_kwh = kWorldCarbonIntensity;  ///< Grams of CO2e per kWh.
  From from = From::world_default;
  std::string region;       ///< From::region: the table's code ("DE", "SE3").
  std::string region_name;  ///< From::region: "Germany".
  int year = 0;             ///< From::region: the year of the value.
  std::string source;       ///< From::region: the table's source name for the row.

  /// "world_default", "region" or "flag".
  const char* FromName() const;
  /// One line for reports: "380.9 gCO2e/kWh: region DE (Germany), 2023, <source>", "... :
  /// --carbon-intensity" or "...: the world average in 2023 (Ember), the default".
  std::string Describe() const;
};

/// What the command line asked for.
struct CarbonRequest {
  std::optional<std::string> region;  ///< --region CODE.
  std::optional<double> g_per_kwh;    ///< --carbon-intensity G; wins over the region.
};

/// Looks `code` up in the table at `table_path`: an ISO 3166-1 alpha-2 or alpha-3 country code
/// or one of the table's grid regions, case-insensitive. Errors are one line: an unknown code
/// names it (and how to list the codes), a bad table names the file and the field.
Result<CarbonIntensity> LookUpRegion(const std::string& table_path, const std::string& code);

/// The intensity `request` asks for: the flag, else the region from the table, else the
/// world average.
Result<CarbonIntensity> ResolveCarbon(const CarbonRequest& request, const std::string& table_path);

}  // namespace joulecast
