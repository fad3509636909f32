// Overflow-checked 64-bit arithmetic for shapes and costs.
//
// Absurd dimensions in a model file must produce an error, never a wrapped number or an
// unbounded allocation. Every product of dimensions goes through these helpers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace joulecast {

/// a * b, or nullopt on signed 64-bit overflow.
inline std::optional<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

/// a + b, or nullopt on signed 64-bit overflow.
inline std::optional<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

/// Product of all values (1 for none), or nullopt on overflow.
inline std::optional<int64_t> CheckedProduct(std::span<const int64_t> values) {
  int64_t r = 1;
  for (int64_t v : values) {
    if (__builtin_mul_overflow(r, v, &r)) return std::nullopt;
  }
  return r;
}

/// A non-negative counter that remembers whether any operation on it overflowed.
/// Costs are accumulated in Count so one overflow anywhere is reported, not wrapped.
class Count {
 public:
  Count() = default;
  Count(int64_t v) : v_(v) {}  // NOLINT: implicit from a plain number

  int64_t value() const { return v_; }
  bool overflowed() const { return overflow_; }

  Count& operator+=(Count o) {
    overflow_ |= o.overflow_ || __builtin_add_overflow(v_, o.v_, &v_);
    return *this;
  }
  friend Count operator+(Count a, Count b) { return a += b; }
  friend Count operator*(Count a, Count b) {
    Count r;
    r.overflow_ = a.overflow_ || b.overflow_ || __builtin_mul_overflow(a.v_, b.v_, &r.v_);
    return r;
  }

 private:
  int64_t v_ = 0;
  bool overflow_ = false;
};

}  // namespace joulecast
