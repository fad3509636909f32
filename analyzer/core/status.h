// Status and Result<T>: how errors a user can cause travel back to the command's edge.
//
// Library code never exits the process. A failed Status carries one line naming the file, node
// or field at fault and what to do; the executable prints it and exits with code 2.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace joulecast {

/// Success, or one human-readable line describing what is wrong.
class Status {
 public:
  Status() = default;
  /// A failed status with `message` (must be non-empty).
  static Status Error(std::string message) { return Status(std::move(message)); }

  /// True when no error occurred.
  bool ok() const { return message_.empty(); }
  /// The error line; empty when ok().
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {
    if (message_.empty()) message_ = "unknown error";
  }
  std::string message_;
};

/// Either a value of type T or a failed Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: REQUIRES: !status.ok()

  bool ok() const { return v_.index() == 0; }
  /// REQUIRES: ok().
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  /// The error; an ok Status when a value is held.
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace joulecast
