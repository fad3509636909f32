#include "analyzer/search/space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string_view>

#include "common/json_fields.h"
#include "common/read_file.h"

namespace joulecast::search {

namespace {

// Ordered, so that parameters and the template keep the file's order.
using Json = nlohmann::ordered_json;
using json_fields::Describe;
using json_fields::Expected;
using json_fields::FieldError;
using json_fields::OneLine;
using json_fields::OnlyAllow;
using json_fields::Pointer;
using json_fields::Quote;

constexpr size_t kMaxSpaceBytes = size_t{16} << 20;
// Integers are stored as doubles in Parameter: keep them exact.
constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53

const std::string_view kSpaceFields[] = {"architecture", "parameters", "training"};
const std::string_view kCategoricalFields[] = {"type", "choices"};
const std::string_view kRangeFields[] = {"type", "low", "high", "log"};
const std::string_view kTrainingFields[] = {
    "dataset",   "epochs",        "batch_size", "train_samples", "validation_samples",
    "optimizer", "learning_rate", "beta1",      "beta2",         "weight_decay"};

Status ErrorAt(const std::string& source, const std::string& pointer, const std::string& what) {
  return Status::Error(json_fields::ErrorLine(source, pointer, what));
}

bool IsName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// "$name" -> "name"; anything else -> empty.
std::string_view PlaceholderName(std::string_view s) {
  if (s.size() < 2 || s[0] != '$' || !IsName(s.substr(1))) return {};
  return s.substr(1);
}

bool IsInteger(const Json& v) { return v.is_number_integer() || v.is_number_unsigned(); }

int64_t ReadInt(const Json& v, const std::string& pointer, int64_t min, int64_t max) {
  if (!IsInteger(v)) Expected(pointer, "an integer", v);
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(max)) {
    Expected(pointer, "an integer from " + std::to_string(min) + " to " + std::to_string(max), v);
  }
  int64_t i = v.get<int64_t>();
  if (i < min || i > max) {
    Expected(pointer, "an integer from " + std::to_string(min) + " to " + std::to_string(max), v);
  }
  return i;
}

double ReadNumber(const Json& v, const std::string& pointer) {
  if (!v.is_number()) Expected(pointer, "a number", v);
  double d = v.get<double>();
  if (!std::isfinite(d)) Expected(pointer, "a finite number", v);
  return d;
}

const Json& Required(const Json& object, const std::string& pointer, const char* key,
                     const char* what) {
  auto it = object.find(key);
  if (it == object.end()) {
    throw FieldError(Pointer(pointer, key),
                     std::string("missing required field; expected ") + what);
  }
  return *it;
}

std::string ValueText(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, *d);
    return std::string(buf, res.ptr);
  }
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return std::get<std::string>(v);
}

Json ValueJson(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) return Json(*d);
  if (const auto* i = std::get_if<int64_t>(&v)) return Json(*i);
  return Json(std::get<std::string>(v));
}

std::optional<double> Numeric(const Value& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return std::nullopt;
}

Parameter ReadParameter(const std::string& name, const Json& spec, const std::string& at) {
  if (!IsName(name)) {
    throw FieldError(
        at,
        "a parameter name is letters, digits and _, not starting with a digit; got " + Quote(name));
  }
  if (!spec.is_object())
    Expected(at, "an object such as {\"type\": \"float\", \"low\": 0, \"high\": 1}", spec);
  Parameter p;
  p.name = name;
  const Json& type = Required(spec, at, "type", "\"float\", \"int\" or \"categorical\"");
  const std::string type_at = Pointer(at, "type");
  if (!type.is_string()) Expected(type_at, "\"float\", \"int\" or \"categorical\"", type);
  const std::string& t = type.get_ref<const std::string&>();
  if (t == "categorical") {
    OnlyAllow(spec, at, kCategoricalFields, "in a categorical parameter");
    p.type = Parameter::Type::categorical;
    const Json& choices = Required(spec, at, "choices", "a non-empty array");
    const std::string choices_at = Pointer(at, "choices");
    if (!choices.is_array() || choices.empty()) {
      Expected(choices_at, "a non-empty array of strings or numbers", choices);
    }
    for (size_t i = 0; i < choices.size(); ++i) {
      const Json& c = choices[i];
      const std::string c_at = choices_at + "/" + std::to_string(i);
      Value v;
      if (c.is_string()) {
        v = c.get<std::string>();
      } else if (IsInteger(c)) {
        v = ReadInt(c, c_at, INT64_MIN, INT64_MAX);
      } else if (c.is_number_float()) {
        v = ReadNumber(c, c_at);
      } else {
        Expected(c_at, "a string or a number", c);
      }
      if (std::find(p.choices.begin(), p.choices.end(), v) != p.choices.end()) {
        throw FieldError(c_at, "duplicate choice " + Describe(c));
      }
      p.choices.push_back(std::move(v));
    }
    return p;
  }
  if (t != "float" && t != "int") Expected(type_at, "\"float\", \"int\" or \"categorical\"", type);
  OnlyAllow(spec, at, kRangeFields, "for type \"" + t + "\"");
  const Json& low = Required(spec, at, "low", "a number");
  const Json& high = Required(spec, at, "high", "a number");
  if (t == "int") {
    p.type = Parameter::Type::integer;
    const auto max = static_cast<int64_t>(kMaxExactInt);
    p.low = static_cast<double>(ReadInt(low, Pointer(at, "low"), -max, max));
    p.high = static_cast<double>(ReadInt(high, Pointer(at, "high"), -max, max));
  } else {
    p.low = ReadNumber(low, Pointer(at, "low"));
    p.high = ReadNumber(high, Pointer(at, "high"));
  }
  if (p.low > p.high) {
    throw FieldError(Pointer(at, "high"),
                     "high " + ValueText(p.high) + " is below low " + ValueText(p.low));
  }
  if (auto it = spec.find("log"); it != spec.end()) {
    if (!it->is_boolean()) Expected(Pointer(at, "log"), "true or false", *it);
    p.log = it->get<bool>();
    if (p.log && p.low <= 0) {
      throw FieldError(Pointer(at, "low"),
                       "a log parameter needs low > 0, got " + ValueText(p.low));
    }
  }
  return p;
}

// The values a parameter can take, for the range checks of training names: nullopt when one is
// not a number.
std::optional<std::pair<double, double>> NumericRange(const Parameter& p) {
  if (p.type != Parameter::Type::categorical) return std::make_pair(p.low, p.high);
  double lo = INFINITY, hi = -INFINITY;
  for (const Value& v : p.choices) {
    auto d = Numeric(v);
    if (!d) return std::nullopt;
    lo = std::min(lo, *d);
    hi = std::max(hi, *d);
  }
  return std::make_pair(lo, hi);
}

bool AllIntegers(const Parameter& p) {
  if (p.type == Parameter::Type::integer) return true;
  if (p.type == Parameter::Type::real) return false;
  for (const Value& v : p.choices) {
    if (!std::holds_alternative<int64_t>(v)) return false;
  }
  return true;
}

// A parameter named like a training field must give that field values it can take.
void CheckTrainingParameter(const Parameter& p, const std::string& at) {
  const std::string& n = p.name;
  if (n == "optimizer") {
    bool ok = p.type == Parameter::Type::categorical;
    for (const Value& v : p.choices) {
      const auto* s = std::get_if<std::string>(&v);
      ok = ok && s && (*s == "adam" || *s == "sgd");
    }
    if (!ok)
      throw FieldError(at, "optimizer must be categorical with choices \"adam\" and/or \"sgd\"");
    return;
  }
  if (n == "batch_size" || n == "epochs") {
    auto range = NumericRange(p);
    if (!AllIntegers(p) || !range || range->first < 1) {
      throw FieldError(at,
                       n + " must be an int parameter (or categorical of integers) of at least 1");
    }
    return;
  }
  struct Bound {
    const char* name;
    double min, max;
    bool min_open;
    const char* text;
  };
  static const Bound kBounds[] = {{"learning_rate", 0, INFINITY, true, "above 0"},
                                  {"beta1", 0, 1, false, "in [0, 1]"},
                                  {"beta2", 0, 1, false, "in [0, 1]"},
                                  {"weight_decay", 0, INFINITY, false, "at least 0"}};
  for (const Bound& b : kBounds) {
    if (n != b.name) continue;
    auto range = NumericRange(p);
    if (!range || range->first < b.min || (b.min_open && range->first == b.min) ||
        range->second > b.max) {
      throw FieldError(at, n + " must take numbers " + b.text);
    }
  }
}

bool IsTrainingName(std::string_view n) {
  return n == "learning_rate" || n == "beta1" || n == "beta2" || n == "weight_decay" ||
         n == "optimizer" || n == "batch_size" || n == "epochs";
}

Training ReadTraining(const Json& t) {
  const std::string at = "/training";
  if (!t.is_object()) Expected(at, "an object", t);
  OnlyAllow(t, at, kTrainingFields, "in training");
  Training tr;
  constexpr int64_t kMax = int64_t{1} << 40;
  for (const auto& [key, v] : t.items()) {
    const std::string f_at = Pointer(at, key);
    if (key == "dataset") {
      if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
        Expected(f_at, "a non-empty string", v);
      }
      tr.dataset = v.get<std::string>();
    } else if (key == "optimizer") {
      if (v != "adam" && v != "sgd") Expected(f_at, "\"adam\" or \"sgd\"", v);
      tr.optimizer = v.get<std::string>();
    } else if (key == "epochs") {
      tr.epochs = ReadInt(v, f_at, 1, kMax);
    } else if (key == "batch_size") {
      tr.batch_size = ReadInt(v, f_at, 1, kMax);
    } else if (key == "train_samples") {
      tr.train_samples = ReadInt(v, f_at, 1, kMax);
    } else if (key == "validation_samples") {
      tr.validation_samples = ReadInt(v, f_at, 1, kMax);
    } else {
      double d = ReadNumber(v, f_at);
      if (key == "learning_rate") {
        if (d <= 0) Expected(f_at, "a number above 0", v);
        tr.learning_rate = d;
      } else if (key == "weight_decay") {
        if (d < 0) Expected(f_at, "a number of at least 0", v);
        tr.weight_decay = d;
      } else {
        if (d < 0 || d > 1) Expected(f_at, "a number in [0, 1]", v);
        (key == "beta1" ? tr.beta1 : tr.beta2) = d;
      }
    }
  }
  return tr;
}

// Every "$name" string in `node`, with its pointer, in document order.
void CollectPlaceholders(const Json& node, const std::string& at,
                         std::vector<std::pair<std::string, std::string>>* out) {
  if (node.is_string()) {
    std::string_view name = PlaceholderName(node.get_ref<const std::string&>());
    if (!name.empty()) out->emplace_back(std::string(name), at);
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      CollectPlaceholders(node[i], at + "/" + std::to_string(i), out);
    }
  } else if (node.is_object()) {
    for (const auto& [key, value] : node.items()) CollectPlaceholders(value, Pointer(at, key), out);
  }
}

// Replaces every "$name" string in `node`; throws naming the first one without a value.
void Substitute(Json& node, const Params& params, const std::string& at) {
  if (node.is_string()) {
    std::string_view name = PlaceholderName(node.get_ref<const std::string&>());
    if (name.empty()) return;
    auto it = params.find(std::string(name));
    if (it == params.end()) throw FieldError(at, "no value for parameter " + Quote(name));
    node = ValueJson(it->second);
  } else if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i)
      Substitute(node[i], params, at + "/" + std::to_string(i));
  } else if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      Substitute(it.value(), params, Pointer(at, it.key()));
    }
  }
}

Space Parse(const std::string& text, const std::string& source) {
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    size_t start = what.find("] ");
    throw FieldError(
        "", "invalid JSON: " + (start == std::string::npos ? what : what.substr(start + 2)));
  }
  if (!doc.is_object()) Expected("", "a JSON object at the top level", doc);
  OnlyAllow(doc, "", kSpaceFields, "in a search space");
  Space space;
  space.source = source;
  const Json& arch = Required(doc, "", "architecture", "an architecture object");
  if (!arch.is_object()) Expected("/architecture", "an architecture object", arch);
  space.architecture = arch.dump();

  const Json& params = Required(doc, "", "parameters", "an object of parameters");
  if (!params.is_object() || params.empty()) {
    Expected("/parameters", "a non-empty object of parameters", params);
  }
  for (const auto& [name, spec] : params.items()) {
    space.parameters.push_back(ReadParameter(name, spec, Pointer("/parameters", name)));
  }
  if (auto it = doc.find("training"); it != doc.end()) space.training = ReadTraining(*it);

  std::vector<std::pair<std::string, std::string>> placeholders;
  CollectPlaceholders(arch, "/architecture", &placeholders);
  std::set<std::string> used;
  for (const auto& [name, at] : placeholders) {
    bool known = std::any_of(space.parameters.begin(), space.parameters.end(),
                             [&](const Parameter& p) { return p.name == name; });
    if (!known) throw FieldError(at, "\"$" + name + "\" names no parameter in /parameters");
    used.insert(name);
  }
  for (const Parameter& p : space.parameters) {
    const std::string at = Pointer("/parameters", p.name);
    if (IsTrainingName(p.name)) {
      CheckTrainingParameter(p, at);
    } else if (!used.count(p.name)) {
      throw FieldError(at, "parameter " + Quote(p.name) + " is used nowhere: no \"$" + p.name +
                               "\" in /architecture and not a training name (learning_rate, "
                               "beta1, beta2, weight_decay, optimizer, batch_size, epochs)");
    }
  }
  return space;
}

// Cell `k` of `n` equal cells of [0, 1], from a unit coordinate.
int64_t Cell(double u, int64_t n) {
  double k = std::floor(u * static_cast<double>(n));
  return static_cast<int64_t>(std::clamp(k, 0.0, static_cast<double>(n - 1)));
}

// The transform a parameter is searched in: identity or log.
double Forward(const Parameter& p, double x) { return p.log ? std::log(x) : x; }
double Inverse(const Parameter& p, double t) { return p.log ? std::exp(t) : t; }

// Integer parameters: value v covers [v - 0.5, v + 0.5] in the (log) transformed range
// [low - 0.5, high + 0.5], so every integer gets an equal-width cell (equal in log space for a
// log parameter).
// A log integer parameter has low >= 1, so low - 0.5 > 0.
double IntegerUnit(const Parameter& p, double v) {
  if (!p.log) return (v - p.low + 0.5) / (p.high - p.low + 1);
  const double t0 = std::log(p.low - 0.5), t1 = std::log(p.high + 0.5);
  const double centre = (std::log(v - 0.5) + std::log(v + 0.5)) / 2;
  return (centre - t0) / (t1 - t0);
}

}  // namespace

Result<Space> ParseSpace(const std::string& text, const std::string& source) {
  if (text.size() > kMaxSpaceBytes) {
    return ErrorAt(source, "", "larger than 16 MiB; not a search space");
  }
  try {
    return Parse(text, source);
  } catch (const FieldError& e) {
    return ErrorAt(source, e.pointer(), e.what());
  } catch (const std::exception& e) {
    return ErrorAt(source, "", std::string("cannot read the search space: ") + e.what());
  }
}

Result<Space> LoadSpace(const std::string& path) {
  std::string error;
  const std::optional<std::string> text = ReadFileUpTo(path, kMaxSpaceBytes, &error);
  if (!text) return ErrorAt(path, "", error);
  return ParseSpace(*text, path);  // which refuses a file cut as too large
}

bool UsedInArchitecture(const Space& space, const std::string& name) {
  // Names are letters, digits and _, so the template's text holds the placeholder verbatim.
  return space.architecture.find("\"$" + name + "\"") != std::string::npos;
}

Result<std::string> ExpandArchitecture(const Space& space, const Params& params) {
  try {
    Json arch = Json::parse(space.architecture);
    Substitute(arch, params, "/architecture");
    return arch.dump();
  } catch (const FieldError& e) {
    return ErrorAt(space.source, e.pointer(), e.what());
  } catch (const std::exception& e) {
    return ErrorAt(space.source, "/architecture", std::string("cannot expand: ") + e.what());
  }
}

Training TrainingFor(const Space& space, const Params& params) {
  Training t = space.training;
  for (const auto& [name, value] : params) {
    if (name == "optimizer") {
      if (const auto* s = std::get_if<std::string>(&value)) t.optimizer = *s;
      continue;
    }
    auto d = Numeric(value);
    if (!d) continue;
    if (name == "learning_rate") t.learning_rate = *d;
    if (name == "beta1") t.beta1 = *d;
    if (name == "beta2") t.beta2 = *d;
    if (name == "weight_decay") t.weight_decay = *d;
    if (name == "batch_size") t.batch_size = static_cast<int64_t>(std::llround(*d));
    if (name == "epochs") t.epochs = static_cast<int64_t>(std::llround(*d));
  }
  return t;
}

std::vector<double> ToUnit(const Space& space, const Params& params) {
  std::vector<double> u;
  u.reserve(space.parameters.size());
  for (const Parameter& p : space.parameters) {
    auto it = params.find(p.name);
    if (it == params.end()) {
      u.push_back(0.5);
      continue;
    }
    const Value& v = it->second;
    if (p.type == Parameter::Type::categorical) {
      auto pos = std::find(p.choices.begin(), p.choices.end(), v);
      size_t k = pos == p.choices.end() ? 0 : static_cast<size_t>(pos - p.choices.begin());
      u.push_back((static_cast<double>(k) + 0.5) / static_cast<double>(p.choices.size()));
      continue;
    }
    double x = std::clamp(Numeric(v).value_or(p.low), p.low, p.high);
    if (p.type == Parameter::Type::integer) {
      u.push_back(IntegerUnit(p, std::round(x)));
    } else if (p.high == p.low) {
      u.push_back(0.5);
    } else {
      const double t0 = Forward(p, p.low), t1 = Forward(p, p.high);
      u.push_back(std::clamp((Forward(p, x) - t0) / (t1 - t0), 0.0, 1.0));
    }
  }
  return u;
}

Params FromUnit(const Space& space, const std::vector<double>& u) {
  Params params;
  for (size_t d = 0; d < space.parameters.size(); ++d) {
    const Parameter& p = space.parameters[d];
    const double ud = d < u.size() ? std::clamp(u[d], 0.0, 1.0) : 0.5;
    if (p.type == Parameter::Type::categorical) {
      params[p.name] = p.choices[Cell(ud, static_cast<int64_t>(p.choices.size()))];
    } else if (p.type == Parameter::Type::integer) {
      const auto n = static_cast<int64_t>(p.high - p.low) + 1;
      int64_t v;
      if (!p.log) {
        v = static_cast<int64_t>(p.low) + Cell(ud, n);
      } else {
        const double t0 = std::log(p.low - 0.5), t1 = std::log(p.high + 0.5);
        const double x = std::exp(t0 + ud * (t1 - t0));
        v = static_cast<int64_t>(std::clamp(std::floor(x + 0.5), p.low, p.high));
      }
      params[p.name] = v;
    } else {
      const double t0 = Forward(p, p.low), t1 = Forward(p, p.high);
      double x = ud <= 0 ? p.low : ud >= 1 ? p.high : Inverse(p, t0 + ud * (t1 - t0));
      params[p.name] = std::clamp(x, p.low, p.high);
    }
  }
  return params;
}

std::string ParamsText(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    out += (out.empty() ? "" : ", ") + name + "=" + OneLine(ValueText(value));
  }
  return out;
}

std::string ParamsJson(const Params& params) {
  // nlohmann writes doubles with the shortest text that reads back to the same double, and
  // keeps integers and reals apart (2 vs 2.0).
  Json j = Json::object();
  for (const auto& [name, value] : params) j[name] = ValueJson(value);
  return j.dump();
}

Result<Params> ParamsFromJson(const std::string& json, const Space& space) {
  const std::string source = "parameters";
  try {
    Json j = Json::parse(json);
    if (!j.is_object()) Expected("", "a JSON object of parameters", j);
    for (const auto& [key, value] : j.items()) {
      bool known = std::any_of(space.parameters.begin(), space.parameters.end(),
                               [&](const Parameter& p) { return p.name == key; });
      if (!known) throw FieldError(Pointer("", key), "not a parameter of " + OneLine(space.source));
    }
    Params params;
    for (const Parameter& p : space.parameters) {
      const std::string at = Pointer("", p.name);
      auto it = j.find(p.name);
      if (it == j.end()) throw FieldError(at, "missing parameter");
      const Json& v = *it;
      if (p.type == Parameter::Type::categorical) {
        std::optional<Value> match;
        for (const Value& c : p.choices) {
          bool same = std::visit(
              [&](const auto& x) -> bool {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, std::string>) {
                  return v.is_string() && v.get_ref<const std::string&>() == x;
                } else if constexpr (std::is_same_v<T, int64_t>) {
                  return IsInteger(v) && v.get<int64_t>() == x;
                } else {
                  return v.is_number_float() && v.get<double>() == x;
                }
              },
              c);
          if (same) match = c;
        }
        if (!match) Expected(at, "one of the parameter's choices", v);
        params[p.name] = *match;
      } else if (p.type == Parameter::Type::integer) {
        const auto max = static_cast<int64_t>(kMaxExactInt);
        int64_t i = ReadInt(v, at, -max, max);
        if (i < p.low || i > p.high) Expected(at, "an integer in the parameter's range", v);
        params[p.name] = i;
      } else {
        double d = ReadNumber(v, at);
        if (d < p.low || d > p.high) Expected(at, "a number in the parameter's range", v);
        params[p.name] = d;
      }
    }
    return params;
  } catch (const FieldError& e) {
    return ErrorAt(source, e.pointer(), e.what());
  } catch (const std::exception& e) {
    return ErrorAt(source, "", std::string("cannot read: ") + e.what());
  }
}

}  // namespace joulecast::search
