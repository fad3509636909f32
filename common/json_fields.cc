#include "common/json_fields.h"

#include <cmath>
#include <cstdio>

namespace joulecast::json_fields {

namespace {

using Json = nlohmann::json;

constexpr size_t kMaxQuoted = 60;

std::string RangeText(int64_t min, int64_t max) {
  if (min == 1) return "a positive integer up to " + std::to_string(max);
  if (min == 0) return "a non-negative integer up to " + std::to_string(max);
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

// The integer value of `v`, or nullopt if it is not an integer (floats never count, even 2.0,
// so that a size written as 2.5 or 1e3 is caught rather than rounded).
std::optional<int64_t> AsInt(const Json& v) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return INT64_MAX;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  return std::nullopt;
}

template <typename AnyJson>
std::string DescribeAny(const AnyJson& value) {
  using T = typename AnyJson::value_t;
  switch (value.type()) {
    case T::null:
      return "null";
    case T::boolean:
      return value.template get<bool>() ? "true" : "false";
    case T::string:
      return Quote(value.template get_ref<const std::string&>());
    case T::number_integer:
    case T::number_unsigned:
    case T::number_float:
      return value.dump();
    case T::array:
      return value.empty() ? "an empty array"
                           : "an array of " + std::to_string(value.size()) + " values";
    case T::object:
      return value.empty() ? "an empty object" : "an object";
    default:
      return "a value of another type";
  }
}

template <typename AnyJson>
void OnlyAllowAny(const AnyJson& object, const std::string& pointer,
                  std::span<const std::string_view> allowed, std::string_view context) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view a : allowed) known |= key == a;
    if (known) continue;
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    throw FieldError(Pointer(pointer, key), "unknown field " + Quote(key) + " " +
                                                std::string(context) + "; its fields are " + list);
  }
}

}  // namespace

std::string OneLine(std::string_view text, bool keep_non_ascii) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 0x20 && c < 0x7f) || (keep_non_ascii && c >= 0x80)) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, kMaxQuoted)) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out = OneLine(out);
  if (text.size() > kMaxQuoted) out += "...";
  return out + "\"";
}

std::string Describe(const nlohmann::json& value) { return DescribeAny(value); }

std::string Describe(const nlohmann::ordered_json& value) { return DescribeAny(value); }

std::string Pointer(const std::string& parent, std::string_view key) {
  std::string out = parent + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Pointer(const std::string& parent, size_t index) {
  return parent + "/" + std::to_string(index);
}

int64_t ReadInt(const Json& value, const std::string& pointer, int64_t min, int64_t max) {
  auto i = AsInt(value);
  if (!i || *i < min || *i > max) Expected(pointer, RangeText(min, max), value);
  return *i;
}

std::string ErrorLine(const std::string& source, const std::string& pointer,
                      const std::string& what, bool keep_non_ascii) {
  return OneLine(source) + ": " + (pointer.empty() ? "" : OneLine(pointer) + ": ") +
         OneLine(what, keep_non_ascii);
}

std::string SentenceLine(const std::string& source, const FieldError& error) {
  return source + ": " + (error.pointer().empty() ? "the document" : error.pointer()) + " " +
         error.what();
}

void Expected(const std::string& pointer, const std::string& expected, const nlohmann::json& got) {
  throw FieldError(pointer, "expected " + expected + ", got " + Describe(got));
}

void Expected(const std::string& pointer, const std::string& expected,
              const nlohmann::ordered_json& got) {
  throw FieldError(pointer, "expected " + expected + ", got " + Describe(got));
}

void OnlyAllow(const nlohmann::json& object, const std::string& pointer,
               std::span<const std::string_view> allowed, std::string_view context) {
  OnlyAllowAny(object, pointer, allowed, context);
}

void OnlyAllow(const nlohmann::ordered_json& object, const std::string& pointer,
               std::span<const std::string_view> allowed, std::string_view context) {
  OnlyAllowAny(object, pointer, allowed, context);
}

Fields::Fields(const Json& object, std::string pointer)
    : object_(object), pointer_(std::move(pointer)) {
  if (!object_.is_object()) Expected(pointer_, "an object", object_);
}

const Json* Fields::Find(std::string_view key) const {
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

void Fields::OnlyAllow(std::span<const std::string_view> allowed, std::string_view context) const {
  json_fields::OnlyAllow(object_, pointer_, allowed, context);
}

int64_t Fields::Int(std::string_view key, int64_t min, int64_t max) const {
  const Json* v = Find(key);
  if (!v) throw FieldError(At(key), "missing required field; expected " + RangeText(min, max));
  return ReadInt(*v, At(key), min, max);
}

int64_t Fields::Int(std::string_view key, int64_t min, int64_t max, int64_t dflt) const {
  return Find(key) ? Int(key, min, max) : dflt;
}

std::array<int64_t, 2> Fields::Pair(std::string_view key, int64_t min, int64_t max,
                                    std::optional<std::array<int64_t, 2>> dflt) const {
  const std::string expected = RangeText(min, max) + " or [h, w] of such";
  const Json* v = Find(key);
  if (!v) {
    if (dflt) return *dflt;
    throw FieldError(At(key), "missing required field; expected " + expected);
  }
  if (auto i = AsInt(*v)) {
    if (*i < min || *i > max) Expected(At(key), expected, *v);
    return {*i, *i};
  }
  if (!v->is_array() || v->size() != 2) Expected(At(key), expected, *v);
  std::array<int64_t, 2> out{};
  for (size_t k = 0; k < 2; ++k) out[k] = ReadInt((*v)[k], Pointer(At(key), k), min, max);
  return out;
}

bool Fields::Bool(std::string_view key, bool dflt) const {
  const Json* v = Find(key);
  if (!v) return dflt;
  if (!v->is_boolean()) Expected(At(key), "true or false", *v);
  return v->get<bool>();
}

double Fields::Number(std::string_view key, double min, double max, bool max_open,
                      double dflt) const {
  const Json* v = Find(key);
  if (!v) return dflt;
  std::string expected =
      "a number in [" + Json(min).dump() + ", " + Json(max).dump() + (max_open ? ")" : "]");
  if (!v->is_number()) Expected(At(key), expected, *v);
  double d = v->get<double>();
  if (!std::isfinite(d) || d < min || d > max || (max_open && d == max)) {
    Expected(At(key), expected, *v);
  }
  return d;
}

std::string Fields::Text(std::string_view key) const {
  const Json* v = Find(key);
  if (!v) throw FieldError(At(key), "missing required field; expected a string");
  if (!v->is_string() || v->get_ref<const std::string&>().empty()) {
    Expected(At(key), "a non-empty string", *v);
  }
  return v->get<std::string>();
}

}  // namespace joulecast::json_fields
