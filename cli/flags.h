// The command line of a subcommand as a table: each flag is one row (name, value kind, range,
// help, where the value goes), and one loop parses the arguments against it, prints the help
// and reports errors as "joulecast COMMAND: ...". Commands only declare their rows and wire the
// parsed options to the libraries.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace joulecast::cli {

/// What a flag's value must be. The loop checks it before the row's `set` sees it.
enum class FlagKind {
  none,     ///< A switch: no value.
  integer,  ///< A decimal integer in [min, max] (IntIn).
  real,     ///< A finite number > 0, and <= max unless max is 0 (PositiveReal).
  choice,   ///< One of `choices`.
  text,     ///< Any string; a missing value is an error, an empty one too unless empty_ok.
  dims,     ///< CxHxW (DimsArg).
};

/// A value that passed its row's kind.
struct FlagValue {
  std::string text;           ///< The argument as given (empty for a switch).
  int64_t integer = 0;        ///< FlagKind::integer.
  double real = 0;            ///< FlagKind::real.
  std::vector<int64_t> dims;  ///< FlagKind::dims.
};

/// One row of a command's flag table.
struct Flag {
  std::string name;     ///< As help and errors show it: "--batch", "-o".
  std::string alias;    ///< Another spelling ("--output"), or "".
  std::string metavar;  ///< The value in help ("N"); "" for a switch.
  FlagKind kind = FlagKind::none;
  int64_t min = 0, max = 0;          ///< integer: the range; real: the upper bound (0: none).
  std::vector<std::string> choices;  ///< choice: the accepted values, in the error's order.
  bool empty_ok = true;              ///< text: whether "" is a value.
  /// Help text, its lines separated by '\n'; it states the default, which the options struct
  /// the row writes to holds.
  std::string help;
  /// The error when the value is missing or not of the kind; "" for the kind's own wording
  /// ("--steps needs a positive integer up to 16777216", "--format must be text or json").
  std::string error;
  /// Stores the value; returns an error line (printed as is), or "".
  std::function<std::string(const FlagValue&)> set;
};

/// A `set` that stores the value in `*field`: the integer, the real, the text, the dims, or
/// true for a switch.
std::function<std::string(const FlagValue&)> Into(int64_t* field);
std::function<std::string(const FlagValue&)> Into(int* field);
std::function<std::string(const FlagValue&)> Into(uint64_t* field);
std::function<std::string(const FlagValue&)> Into(double* field);
std::function<std::string(const FlagValue&)> Into(std::string* field);
std::function<std::string(const FlagValue&)> Into(bool* field);
std::function<std::string(const FlagValue&)> Into(std::optional<int64_t>* field);
std::function<std::string(const FlagValue&)> Into(std::optional<std::vector<int64_t>>* field);

/// -o FILE (also --output), with the command's own help and name for the file.
Flag OutputFlag(std::string* output, std::string help, std::string metavar = "FILE");

/// --precision P: fp32, bf16 or fp16, with the command's own help.
Flag PrecisionFlag(std::string* precision, std::string help);

/// A CommandLine::Positionals taker for one argument, `what` in errors ("MODEL"): stores it in
/// `*into`; a second one is an error.
std::function<std::string(const std::string&)> OnePositional(std::string* into, std::string what);

/// A subcommand's command line.
class CommandLine {
 public:
  /// `command` is the subcommand's name; `usage` the help above the flag rows, `epilogue` the
  /// help below them; `help_column` the column where the rows' help text starts.
  CommandLine(std::string command, std::string usage, size_t help_column, std::vector<Flag> flags,
              std::string epilogue = "");

  /// Each argument that does not start with '-' goes to `take` (an error line or ""); without
  /// one, such an argument is an unknown option.
  void Positionals(std::function<std::string(const std::string&)> take);

  /// Parses `args`, calling each row's `set` in the order given. Returns nullopt to go on, or
  /// the exit code to return now: 0 after printing the help (--help, -h) to standard output, 2
  /// after printing an error.
  std::optional<int> Parse(const std::vector<std::string>& args);

  /// Whether the last Parse saw the flag named `name`.
  bool Given(const std::string& name) const;
  /// The flags the last Parse saw, by name, in the order given (a repeated flag once each time).
  const std::vector<std::string>& given() const { return given_; }

  /// Prints "joulecast COMMAND: message" to standard error and returns 2, the exit code.
  int Fail(const std::string& message) const;
  /// Writes the help: usage, one entry per row with help, epilogue.
  void PrintHelp(std::FILE* to) const;

 private:
  std::string command_, usage_, epilogue_;
  size_t help_column_;
  std::vector<Flag> flags_;
  std::function<std::string(const std::string&)> take_;
  std::vector<std::string> given_;
};

/// A decimal integer in [min, max], digits only ("12"; not "+12", " 12" or "1e3").
std::optional<int64_t> IntIn(const std::string& s, int64_t min, int64_t max);

/// A finite number > 0 ("0.001", "1e-3").
std::optional<double> PositiveReal(const std::string& s);

/// Dims written CxHxW ("3x224x224"), each in [1, 2^20].
std::optional<std::vector<int64_t>> DimsArg(const std::string& s);

}  // namespace joulecast::cli
