// Reading typed, bounded fields out of JSON documents that users write (architectures, search
// spaces, profiles, baselines), with every error naming the field by JSON pointer.
//
// Errors are thrown as FieldError and caught at the reader's public functions, which turn them
// into a Status (ErrorLine words the usual one). Messages are one line: control characters and
// bytes outside printable ASCII in user text are escaped. Functions that look at values take
// nlohmann::json or nlohmann::ordered_json (for readers that keep the file's order).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace joulecast::json_fields {

/// A user error in a document: `pointer` is the JSON pointer of the field at fault (empty for
/// the document as a whole) and `what` says what is wrong or what was expected.
class FieldError : public std::runtime_error {
 public:
  FieldError(std::string pointer, const std::string& what)
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
std::string Describe(const nlohmann::json& value);
std::string Describe(const nlohmann::ordered_json& value);
/// `parent` + "/" + `key` with `~` and `/` escaped as JSON pointers require.
std::string Pointer(const std::string& parent, std::string_view key);
/// `parent` + "/" + index.
std::string Pointer(const std::string& parent, size_t index);
/// "<source>: <pointer>: <what>" (no pointer part when it is empty), each escaped by OneLine;
/// `what` keeps its UTF-8 when `keep_non_ascii`.
std::string ErrorLine(const std::string& source, const std::string& pointer,
                      const std::string& what, bool keep_non_ascii = false);
/// "<source>: <pointer> <what>" ("the document" for an empty pointer), for readers whose
/// messages are sentences about the field ("p.json: /meter/real is true but the meter ...").
std::string SentenceLine(const std::string& source, const FieldError& error);

/// "expected X, got Y" thrown for the field at `pointer`.
[[noreturn]] void Expected(const std::string& pointer, const std::string& expected,
                           const nlohmann::json& got);
[[noreturn]] void Expected(const std::string& pointer, const std::string& expected,
                           const nlohmann::ordered_json& got);
/// Throws naming the first field of `object` (at `pointer`) not in `allowed`; the message lists
/// them after `context` ("unknown field \"x\" for conv2d; its fields are op, id, ...").
void OnlyAllow(const nlohmann::json& object, const std::string& pointer,
               std::span<const std::string_view> allowed, std::string_view context);
void OnlyAllow(const nlohmann::ordered_json& object, const std::string& pointer,
               std::span<const std::string_view> allowed, std::string_view context);

/// The integer `value` if it lies in [min, max]; otherwise throws for the field at `pointer`.
/// Numbers with a fraction or exponent (2.5, 1e3) are not integers here.
int64_t ReadInt(const nlohmann::json& value, const std::string& pointer, int64_t min, int64_t max);

/// A JSON object whose fields are read one by one; fields outside an allowed list are errors.
/// REQUIRES: `object` outlives the reader.
class Fields {
 public:
  /// Throws FieldError unless `object` is an object.
  Fields(const nlohmann::json& object, std::string pointer);

  /// The pointer of this object.
  const std::string& pointer() const { return pointer_; }
  /// The pointer of field `key` of this object.
  std::string At(std::string_view key) const { return Pointer(pointer_, key); }
  /// The field's value, or nullptr when absent.
  const nlohmann::json* Find(std::string_view key) const;
  /// OnlyAllow for this object.
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
  const nlohmann::json& object_;
  std::string pointer_;
};

}  // namespace joulecast::json_fields
