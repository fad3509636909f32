// Number formatting for reports meant for people (text, markdown, HTML). Plain functions, no
// state.
#pragma once

#include <cstdint>
#include <string>

namespace joulecast::report {

/// Thousands separators: 1234567 -> "1,234,567".
std::string Grouped(int64_t v);
/// Three significant digits with an SI suffix for counts: 1820000 -> "1.82 M"; whole numbers
/// under 1000 print as they are.
std::string Si(double v);
/// Binary units: 512 B, 1.5 KiB, 44.6 MiB.
std::string Bytes(int64_t bytes);
/// A physical quantity, three significant digits and an SI prefix: 0.0123 J -> "12.3 mJ"
/// (not scaled when not finite: "inf J").
std::string Quantity(double v, const char* unit);
/// Grams of CO2e with three significant digits, in grams up to a tonne ("850 kgCO2e") and in
/// metric tonnes from there ("1.2 tCO2e", "3.4 ktCO2e"), as large training runs are reported.
std::string Emissions(double grams);
/// Joules as watt-hours with an SI prefix, three significant digits: "2.56 mWh", "154 Wh",
/// "1.2 kWh", "3.4 MWh", "1.1 GWh".
std::string WattHours(double joules);
/// `part` as a percentage of `whole`, one decimal: "45.7%"; "0.0%" when whole is not positive.
std::string Percent(double part, double whole);
/// A signed fraction as a percentage, one decimal: 0.034 -> "+3.4%", -0.1 -> "-10.0%".
std::string SignedPercent(double fraction);
/// A duration for people: seconds with an SI prefix under a minute, then minutes, hours, days.
std::string Duration(double seconds);

}  // namespace joulecast::report
