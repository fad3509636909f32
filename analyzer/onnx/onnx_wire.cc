#include "analyzer/onnx/onnx_wire.h"

#include <string>

#include "analyzer/core/checked_math.h"

namespace joulecast::onnx_wire {

namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kBytes = 2, kFixed32 = 5 };

// The messages whose fields the walker looks into; everything else is copied as opaque bytes.
enum class Msg {
  model,
  graph,
  node,
  attribute,
  function,
  sparse_init,
  sparse_attr,
  tensor_init,
  tensor_attr
};

struct Field {
  uint32_t number = 0;
  uint32_t wire = 0;
  uint64_t varint = 0;          // The value of a varint field.
  std::string_view payload;     // The bytes of a length-delimited field.
  const char* begin = nullptr;  // The whole field, tag included, for verbatim copies.
  const char* end = nullptr;
};

// Reads fields from one message's bytes. Offsets in errors are from the start of the file.
class Reader {
 public:
  Reader(std::string_view bytes, const char* file_begin)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()), file_begin_(file_begin) {}

  bool done() const { return p_ == end_; }

  Status Next(Field* f) {
    f->begin = p_;
    uint64_t tag;
    if (!Varint(&tag)) return Error("bad field tag");
    if (tag >> 32 != 0 || (tag >> 3) == 0) return Error("invalid field number");
    f->number = static_cast<uint32_t>(tag >> 3);
    f->wire = static_cast<uint32_t>(tag & 7);
    switch (f->wire) {
      case kVarint:
        if (!Varint(&f->varint)) return Error("bad varint");
        break;
      case kFixed64:
        if (!Skip(8)) return Error("truncated fixed64");
        break;
      case kFixed32:
        if (!Skip(4)) return Error("truncated fixed32");
        break;
      case kBytes: {
        uint64_t len;
        if (!Varint(&len)) return Error("bad length");
        if (len > static_cast<uint64_t>(end_ - p_)) {
          return Error("field " + std::to_string(f->number) + " claims " + std::to_string(len) +
                       " bytes but only " + std::to_string(end_ - p_) + " remain");
        }
        f->payload = std::string_view(p_, len);
        p_ += len;
        break;
      }
      default:
        return Error("unsupported wire type " + std::to_string(f->wire));
    }
    f->end = p_;
    return Status();
  }

  // Reads a varint from the current position (used for packed repeated fields).
  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return false;
      uint8_t byte = static_cast<uint8_t>(*p_++);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }

 private:
  bool Skip(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }

  Status Error(const std::string& what) const {
    return Status::Error("corrupt or truncated protobuf at byte " +
                         std::to_string(p_ - file_begin_) + ": " + what);
  }

  const char* p_;
  const char* end_;
  const char* file_begin_;
};

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

enum class Action { copy, drop, recurse };
struct Rule {
  Action action = Action::copy;
  Msg child = Msg::model;
};

// Field numbers are those of onnx.proto (IR version 8).
Rule RuleFor(Msg parent, uint32_t number) {
  constexpr Rule copy{};
  auto into = [](Msg child) { return Rule{Action::recurse, child}; };
  switch (parent) {
    case Msg::model:
      if (number == 7) return into(Msg::graph);
      if (number == 20) return Rule{Action::drop, Msg::model};  // training_info
      if (number == 25) return into(Msg::function);
      return copy;
    case Msg::graph:
      if (number == 1) return into(Msg::node);
      if (number == 5) return into(Msg::tensor_init);
      if (number == 15) return into(Msg::sparse_init);
      return copy;
    case Msg::node:
      return number == 5 ? into(Msg::attribute) : copy;
    case Msg::attribute:
      if (number == 5 || number == 10) return into(Msg::tensor_attr);
      if (number == 6 || number == 11) return into(Msg::graph);
      if (number == 22 || number == 23) return into(Msg::sparse_attr);
      return copy;
    case Msg::function:
      return number == 7 ? into(Msg::node) : copy;
    case Msg::sparse_init:
      return number == 1 || number == 2 ? into(Msg::tensor_init) : copy;
    case Msg::sparse_attr:
      return number == 1 || number == 2 ? into(Msg::tensor_attr) : copy;
    case Msg::tensor_init:
    case Msg::tensor_attr:
      return copy;
  }
  return copy;
}

// TensorProto fields holding element data: float_data, int32_data, string_data, int64_data,
// raw_data, double_data, uint64_data.
bool IsPayloadField(uint32_t number) {
  return number == 4 || number == 5 || number == 6 || number == 7 || number == 9 || number == 10 ||
         number == 11;
}

class Stripper {
 public:
  Stripper(const char* file_begin, StripStats* stats) : file_begin_(file_begin), stats_(stats) {}

  Status Rewrite(Msg kind, std::string_view in, std::string* out, int depth) {
    if (depth > kMaxDepth) {
      return Status::Error("protobuf nested deeper than " + std::to_string(kMaxDepth) +
                           " messages");
    }
    if (kind == Msg::tensor_init || kind == Msg::tensor_attr) {
      return RewriteTensor(in, kind == Msg::tensor_init, out);
    }
    Reader reader(in, file_begin_);
    Field f;
    std::string child;
    while (!reader.done()) {
      if (Status s = reader.Next(&f); !s.ok()) return s;
      Rule rule = f.wire == kBytes ? RuleFor(kind, f.number) : Rule{};
      if (rule.action == Action::drop) continue;
      if (rule.action == Action::copy) {
        out->append(f.begin, f.end);
        continue;
      }
      child.clear();
      if (Status s = Rewrite(rule.child, f.payload, &child, depth + 1); !s.ok()) return s;
      AppendVarint(static_cast<uint64_t>(f.number) << 3 | kBytes, out);
      AppendVarint(child.size(), out);
      out->append(child);
    }
    return Status();
  }

 private:
  // Two passes over the tensor's fields: the first reads dims and data type (jumping over
  // payloads by their length), the second copies all but the payloads KeepPayload rejects.
  Status RewriteTensor(std::string_view in, bool in_initializer, std::string* out) {
    int64_t data_type = 0;
    int64_t elements = 1;
    size_t payload_bytes = 0;
    Reader reader(in, file_begin_);
    Field f;
    while (!reader.done()) {
      if (Status s = reader.Next(&f); !s.ok()) return s;
      if (IsPayloadField(f.number)) payload_bytes += static_cast<size_t>(f.end - f.begin);
      if (f.number == 2 && f.wire == kVarint) data_type = static_cast<int64_t>(f.varint);
      if (f.number != 1) continue;
      if (f.wire == kVarint) {
        MultiplyDim(f.varint, &elements);
      } else if (f.wire == kBytes) {
        Reader packed(f.payload, file_begin_);
        while (!packed.done()) {
          uint64_t dim;
          if (!packed.Varint(&dim)) {
            return Status::Error("corrupt or truncated protobuf: bad packed tensor dims");
          }
          MultiplyDim(dim, &elements);
        }
      }
    }
    // Dims can lie about the payload's size: a kept payload must be small in bytes too.
    constexpr size_t kMaxKeptBytes = kMaxKeptElements * 16;
    const bool keep = data_type >= 0 && data_type <= 0x7fffffff &&
                      KeepPayload(static_cast<int>(data_type), elements, in_initializer) &&
                      payload_bytes <= kMaxKeptBytes;
    if (keep || payload_bytes == 0) {
      out->append(in);
      return Status();
    }
    Reader copier(in, file_begin_);
    while (!copier.done()) {
      if (Status s = copier.Next(&f); !s.ok()) return s;
      if (!IsPayloadField(f.number)) {
        out->append(f.begin, f.end);
      } else if (stats_) {
        stats_->payload_bytes_skipped +=
            static_cast<int64_t>(f.wire == kBytes ? f.payload.size() : f.end - f.begin);
      }
    }
    if (stats_) ++stats_->tensors_stripped;
    return Status();
  }

  static void MultiplyDim(uint64_t dim, int64_t* elements) {
    const int64_t d = static_cast<int64_t>(dim);
    if (*elements < 0 || d < 0) {
      *elements = -1;
      return;
    }
    auto product = CheckedMul(*elements, d);
    *elements = product ? *product : -1;
  }

  const char* file_begin_;
  StripStats* stats_;
};

bool IsIntegerType(int data_type) {
  switch (data_type) {
    case 2:
    case 3:
    case 4:
    case 5:
    case 6:
    case 7:
    case 9:
    case 12:
    case 13:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool KeepPayload(int data_type, int64_t elements, bool in_initializer) {
  if (elements < 0 || elements > kMaxKeptElements) return false;
  return !in_initializer || IsIntegerType(data_type);
}

Status StripModel(std::string_view model, std::string* out, StripStats* stats) {
  out->clear();
  Stripper stripper(model.data(), stats);
  return stripper.Rewrite(Msg::model, model, out, 0);
}

}  // namespace joulecast::onnx_wire
