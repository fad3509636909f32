// A payload-skipping reader of the ONNX protobuf wire format (internal to the ONNX front end).
//
// A model file is mostly weights. StripModel walks a serialized ModelProto tag by tag over the
// caller's bytes (typically a memory map) and writes a copy without the payloads of large
// tensors: their dims, data type and name stay, their data fields (raw_data, float_data,
// int64_data, ...) are jumped over by length and never read, so the pages holding them are never
// touched. The copy is small and parses with onnx::ModelProto::ParseFromArray.
//
// The walker trusts nothing: every length is checked against the bytes left, varints are at most
// ten bytes, groups and field number 0 are rejected, and nesting is bounded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "analyzer/core/status.h"

namespace joulecast::onnx_wire {

/// Largest tensor, in elements, whose payload is kept. Small integer initializers carry shape
/// plumbing (Reshape targets); small Constant node values carry Resize scales and the like.
inline constexpr int64_t kMaxKeptElements = 4096;

/// Deepest nesting of messages accepted (graphs inside node attributes count).
inline constexpr int kMaxDepth = 64;

/// Whether a tensor's payload survives stripping. `data_type` is the ONNX TensorProto code;
/// `elements` is the product of its dims, or -1 when a dim is negative or the product overflows.
/// Initializers keep only small integer payloads (weights are never copied); tensors held in node
/// attributes (Constant values) keep any small payload.
bool KeepPayload(int data_type, int64_t elements, bool in_initializer);

/// What StripModel left out.
struct StripStats {
  int64_t tensors_stripped = 0;       ///< Tensors that lost at least one payload field.
  int64_t payload_bytes_skipped = 0;  ///< Bytes of payload skipped without being read.
};

/// Writes to `*out` the ModelProto in `model` without the payloads KeepPayload rejects, and
/// without training_info (not needed to analyze). Everything else is copied as is. On a
/// wire-format error (a length past the end, an over-long varint, a group, field number 0,
/// nesting deeper than kMaxDepth) returns an error saying what and at which byte offset.
/// `*out` is never larger than `model`.
Status StripModel(std::string_view model, std::string* out, StripStats* stats = nullptr);

}  // namespace joulecast::onnx_wire
