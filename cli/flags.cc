#include "cli/flags.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace joulecast::cli {

namespace {

// "a, b or c".
std::string OneOf(const std::vector<std::string>& choices) {
  std::string s;
  for (size_t i = 0; i < choices.size(); ++i) {
    s += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  }
  return s;
}

// The kind's own wording of what the flag needs.
std::string KindError(const Flag& f) {
  switch (f.kind) {
    case FlagKind::integer:
      if (f.min == 0 || f.min == 1) {
        return f.name + " needs " + (f.min == 0 ? "a non-negative" : "a positive") +
               " integer up to " + std::to_string(f.max);
      }
      return f.name + " needs an integer from " + std::to_string(f.min) + " to " +
             std::to_string(f.max);
    case FlagKind::real:
      return f.name + " needs a positive number" +
             (f.max > 0 ? " up to " + std::to_string(f.max) : std::string());
    case FlagKind::choice:
      return f.name + " must be " + OneOf(f.choices);
    case FlagKind::dims:
      return f.name + " needs positive dims like 3x224x224";
    case FlagKind::text:
    case FlagKind::none:
      return f.name + " needs " + (f.metavar.empty() ? "a value" : f.metavar);
  }
  return f.name + " is wrong";
}

// Checks `text` against the row's kind; nullopt when it does not pass.
std::optional<FlagValue> Check(const Flag& f, const std::string& text) {
  FlagValue v;
  v.text = text;
  switch (f.kind) {
    case FlagKind::none:
      return v;
    case FlagKind::integer: {
      auto n = IntIn(text, f.min, f.max);
      if (!n) return std::nullopt;
      v.integer = *n;
      return v;
    }
    case FlagKind::real: {
      auto x = PositiveReal(text);
      if (!x || (f.max > 0 && *x > static_cast<double>(f.max))) return std::nullopt;
      v.real = *x;
      return v;
    }
    case FlagKind::choice:
      if (std::find(f.choices.begin(), f.choices.end(), text) == f.choices.end()) {
        return std::nullopt;
      }
      return v;
    case FlagKind::text:
      if (text.empty() && !f.empty_ok) return std::nullopt;
      return v;
    case FlagKind::dims: {
      auto d = DimsArg(text);
      if (!d) return std::nullopt;
      v.dims = std::move(*d);
      return v;
    }
  }
  return std::nullopt;
}

// A row's `set` that stores the value with `store` and never fails.
template <typename Store>
std::function<std::string(const FlagValue&)> Storing(Store store) {
  return [store](const FlagValue& v) {
    store(v);
    return std::string();
  };
}

}  // namespace

CommandLine::CommandLine(std::string command, std::string usage, size_t help_column,
                         std::vector<Flag> flags, std::string epilogue)
    : command_(std::move(command)),
      usage_(std::move(usage)),
      epilogue_(std::move(epilogue)),
      help_column_(help_column),
      flags_(std::move(flags)) {}

void CommandLine::Positionals(std::function<std::string(const std::string&)> take) {
  take_ = std::move(take);
}

std::optional<int> CommandLine::Parse(const std::vector<std::string>& args) {
  given_.clear();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      PrintHelp(stdout);
      return 0;
    }
    auto row = std::find_if(flags_.begin(), flags_.end(), [&](const Flag& f) {
      return a == f.name || (!f.alias.empty() && a == f.alias);
    });
    if (row == flags_.end()) {
      if ((!a.empty() && a[0] == '-') || !take_) {
        return Fail("unknown option '" + a + "' (see joulecast " + command_ + " --help)");
      }
      if (std::string error = take_(a); !error.empty()) return Fail(error);
      continue;
    }
    given_.push_back(row->name);
    std::optional<FlagValue> value;
    if (row->kind == FlagKind::none) {
      value = FlagValue{};
    } else if (i + 1 < args.size()) {
      value = Check(*row, args[++i]);
    }
    if (!value) return Fail(row->error.empty() ? KindError(*row) : row->error);
    if (std::string error = row->set(*value); !error.empty()) return Fail(error);
  }
  return std::nullopt;
}

bool CommandLine::Given(const std::string& name) const {
  return std::find(given_.begin(), given_.end(), name) != given_.end();
}

int CommandLine::Fail(const std::string& message) const {
  std::fprintf(stderr, "joulecast %s: %s\n", command_.c_str(), message.c_str());
  return 2;
}

void CommandLine::PrintHelp(std::FILE* to) const {
  std::string text = usage_;
  const std::string indent(help_column_, ' ');
  for (const Flag& f : flags_) {
    if (f.help.empty()) continue;
    std::string label = "  " + f.name + (f.metavar.empty() ? "" : " " + f.metavar);
    text += label.size() < help_column_ ? label + std::string(help_column_ - label.size(), ' ')
                                        : label + "\n" + indent;
    for (char c : f.help) text += c == '\n' ? "\n" + indent : std::string(1, c);
    text += "\n";
  }
  text += epilogue_;
  std::fputs(text.c_str(), to);
}

// clang-format off
std::function<std::string(const FlagValue&)> Into(int64_t* field) {
  return Storing([field](const FlagValue& v) { *field = v.integer; });
}
std::function<std::string(const FlagValue&)> Into(int* field) {
  return Storing([field](const FlagValue& v) { *field = static_cast<int>(v.integer); });
}
std::function<std::string(const FlagValue&)> Into(uint64_t* field) {
  return Storing([field](const FlagValue& v) { *field = static_cast<uint64_t>(v.integer); });
}
std::function<std::string(const FlagValue&)> Into(double* field) {
  return Storing([field](const FlagValue& v) { *field = v.real; });
}
std::function<std::string(const FlagValue&)> Into(std::string* field) {
  return Storing([field](const FlagValue& v) { *field = v.text; });
}
std::function<std::string(const FlagValue&)> Into(bool* field) {
  return Storing([field](const FlagValue&) { *field = true; });
}
std::function<std::string(const FlagValue&)> Into(std::optional<int64_t>* field) {
  return Storing([field](const FlagValue& v) { *field = v.integer; });
}
std::function<std::string(const FlagValue&)> Into(std::optional<std::vector<int64_t>>* field) {
  return Storing([field](const FlagValue& v) { *field = v.dims; });
}
// clang-format on

// clang-format off
Flag OutputFlag(std::string* output, std::string help, std::string metavar) {
  return {.name = "-o", .alias = "--output", .metavar = std::move(metavar),
          .kind = FlagKind::text, .empty_ok = false, .help = std::move(help),
          .error = "-o needs a file name", .set = Into(output)};
}

Flag PrecisionFlag(std::string* precision, std::string help) {
  return {.name = "--precision", .metavar = "P", .kind = FlagKind::choice,
          .choices = {"fp32", "bf16", "fp16"}, .help = std::move(help),
          .error = "--precision needs fp32, bf16 or fp16", .set = Into(precision)};
}

// clang-format on
std::function<std::string(const std::string&)> OnePositional(std::string* into, std::string what) {
  return [into, what](const std::string& arg) {
    if (!into->empty()) {
      return "more than one " + what + " given: '" + *into + "' and '" + arg + "'";
    }
    *into = arg;
    return std::string();
  };
}

std::optional<int64_t> IntIn(const std::string& s, int64_t min, int64_t max) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno != 0 || v > static_cast<unsigned long long>(max)) return std::nullopt;
  if (static_cast<int64_t>(v) < min) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<double> PositiveReal(const std::string& s) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v) || v <= 0) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<int64_t>> DimsArg(const std::string& s) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (true) {
    size_t x = s.find('x', start);
    auto v = IntIn(s.substr(start, x == std::string::npos ? std::string::npos : x - start), 1,
                   int64_t{1} << 20);
    if (!v) return std::nullopt;
    out.push_back(*v);
    if (x == std::string::npos) break;
    start = x + 1;
  }
  return out;
}

}  // namespace joulecast::cli
