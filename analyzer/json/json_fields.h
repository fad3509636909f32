// Internal to the JSON front end: reading typed, bounded fields out of a JSON object, with every
// error naming the field by JSON pointer.
//
// Errors are thrown as SpecError and caught at the front end's public functions, which turn them
// into a Status; nothing here escapes the library. Messages are one line: control characters and
// bytes outside printable ASCII in user text are escaped.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace joulecast::json_internal {

using Json = nlohmann::json;

/// Largest size accepted for any one dimension, channel count, kernel, stride or padding.
inline constexpr int64_t kMaxDim = int64_t{1} << 20;
/// Largest element count of any tensor the front end creates (the core's default bound).
inline constexpr int64_t kMaxElements = int64_t{1} << 48;

/// A user error in the architecture: `pointer` is the JSON pointer of the field at fault
/// (empty for the document as a whole) and `what` says what was expected.
class SpecError : public std::runtime_error {
 public:
  SpecError(std::string pointer, const std::string& what)
      : std::runtime_error(what), pointer_(std::move(pointer)) {}
  /// The JSON pointer of the offending field; empty for the whole document.
  const std::string& pointer() const { return pointer_; }

 private:
  std::string pointer_;
};

/// `text` with control characters escaped as \xNN, so a message stays one line; bytes outside
/// ASCII are escaped too unless `keep_non_ascii` (for our own UTF-8, such as "N×64").
std::string OneLine(std::string_view text, bool keep_non_ascii = false);
/// `text` as a quoted JSON string, escaped by OneLine, cut to about 60 characters.
std::string Quote(std::string_view text);
/// A short description of a JSON value for "got ..." ("\"x\"", "-3", "an array of 3 values").
std::string Describe(const Json& value);
/// `parent` + "/" + `key` with `~` and `/` escaped as JSON pointers require.
std::string Pointer(const std::string& parent, std::string_view key);
/// `parent` + "/" + index.
std::string Pointer(const std::string& parent, size_t index);

/// "expected X, got Y" thrown for the field at `pointer`.
[[noreturn]] void Expected(const std::string& pointer, const std::string& expected,
                           const Json& got);

/// The integer `value` if it lies in [min, max]; otherwise throws for the field at `pointer`.
/// Numbers with a fraction or exponent (2.5, 1e3) are not integers here.
int64_t ReadInt(const Json& value, const std::string& pointer, int64_t min, int64_t max);

/// A JSON object whose fields are read one by one; fields outside an allowed list are errors.
/// REQUIRES: `object` outlives the reader.
class Fields {
 public:
  /// Throws SpecError unless `object` is an object.
  Fields(const Json& object, std::string pointer);

  /// The pointer of this object.
  const std::string& pointer() const { return pointer_; }
  /// The pointer of field `key` of this object.
  std::string At(std::string_view key) const { return Pointer(pointer_, key); }
  /// The field's value, or nullptr when absent.
  const Json* Find(std::string_view key) const;
  /// Throws naming the first field not in `allowed`; the message lists them after `context`
  /// ("unknown field \"x\" for conv2d; its fields are op, id, ...").
  void OnlyAllow(std::span<const std::string_view> allowed, std::string_view context) const;

  /// A required integer in [min, max].
  int64_t Int(std::string_view key, int64_t min, int64_t max) const;
  /// An optional integer in [min, max], `dflt` when absent.
  int64_t Int(std::string_view key, int64_t min, int64_t max, int64_t dflt) const;
  /// An int or [h, w] of integers in [min, max]; `dflt` when absent (required if nullopt).
  std::array<int64_t, 2> Pair(std::string_view key, int64_t min, int64_t max,
                              std::optional<std::array<int64_t, 2>> dflt) const;
  /// An optional boolean.
  bool Bool(std::string_view key, bool dflt) const;
  /// An optional number in [min, max] (max excluded when `max_open`).
  double Number(std::string_view key, double min, double max, bool max_open, double dflt) const;
  /// A required non-empty string.
  std::string Text(std::string_view key) const;

 private:
  const Json& object_;
  std::string pointer_;
};

}  // namespace joulecast::json_internal
