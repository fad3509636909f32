#include "calibrate/data/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace joulecast {

namespace {

constexpr uint32_t kLabelsMagic = 2049;
constexpr uint32_t kImagesMagic = 2051;
constexpr int64_t kMaxDim = int64_t{1} << 24;
constexpr int64_t kMaxPayloadBytes = int64_t{1} << 31;

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly `n` bytes; on a short read says whether the data ended or zlib failed.
Status ReadExactly(gzFile f, const std::string& path, uint8_t* out, int64_t n, const char* what) {
  while (n > 0) {
    unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n, INT_MAX / 2));
    int got = gzread(f, out, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      return Status::Error(path + ": corrupt gzip data while reading the " + what + ": " + msg);
    }
    if (got == 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      std::string why = errnum != Z_OK ? std::string(": ") + msg : "";
      return Status::Error(path + ": truncated: the file ends inside the " + what + why +
                           " (reinstall dataset-fashion-mnist)");
    }
    out += got;
    n -= got;
  }
  return Status();
}

uint32_t BigEndian32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

const char* Describe(uint32_t magic) {
  return magic == kImagesMagic ? "images" : magic == kLabelsMagic ? "labels" : "idx ubyte";
}

}  // namespace

Result<IdxArray> ReadIdxUbyteGz(const std::string& path, uint32_t expected_magic) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::Error(path +
                         ": not found (Fashion-MNIST comes with Debian's "
                         "dataset-fashion-mnist package: apt-get install "
                         "dataset-fashion-mnist)");
  }
  errno = 0;
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) {
    return Status::Error(path +
                         ": cannot open: " + (errno ? std::strerror(errno) : "out of memory"));
  }
  gzbuffer(f.get(), 1 << 17);

  uint8_t header[4];
  if (Status s = ReadExactly(f.get(), path, header, 4, "header"); !s.ok()) return s;
  uint32_t magic = BigEndian32(header);
  if (magic != expected_magic) {
    char got[16];
    std::snprintf(got, sizeof got, "0x%08x", magic);
    return Status::Error(path + ": not an idx " + Describe(expected_magic) +
                         " file: magic number " + got + ", expected " +
                         std::to_string(expected_magic) + " (wrong or corrupt file)");
  }
  const int ndims = header[3];
  IdxArray array;
  int64_t payload = 1;
  for (int i = 0; i < ndims; ++i) {
    uint8_t raw[4];
    if (Status s = ReadExactly(f.get(), path, raw, 4, "header"); !s.ok()) return s;
    int64_t d = BigEndian32(raw);
    if (d <= 0 || d > kMaxDim) {
      return Status::Error(path + ": corrupt header: dim " + std::to_string(i) + " is " +
                           std::to_string(d) + " (expected 1.." + std::to_string(kMaxDim) + ")");
    }
    payload *= d;  // At most 2^31 x 2^24: no overflow before the check.
    if (payload > kMaxPayloadBytes) {
      return Status::Error(path + ": corrupt header: dims describe more than 2^31 bytes");
    }
    array.dims.push_back(d);
  }
  array.values.resize(static_cast<size_t>(payload));
  if (Status s = ReadExactly(f.get(), path, array.values.data(), payload, "data"); !s.ok()) {
    return s;
  }
  // Reading past the end makes zlib check the gzip trailer (CRC and length) too.
  uint8_t extra;
  int got = gzread(f.get(), &extra, 1);
  if (got != 0) {
    int errnum = 0;
    const char* msg = gzerror(f.get(), &errnum);
    return Status::Error(path + (got > 0 ? ": corrupt: data continues past the " +
                                               std::to_string(payload) + " bytes its header gives"
                                         : std::string(": corrupt gzip data: ") + msg));
  }
  int errnum = 0;
  const char* msg = gzerror(f.get(), &errnum);
  if (errnum != Z_OK) return Status::Error(path + ": corrupt gzip data: " + msg);
  return array;
}

std::string FashionMnistImagesFile(FashionMnistSplit split) {
  return split == FashionMnistSplit::train ? "train-images-idx3-ubyte.gz"
                                           : "t10k-images-idx3-ubyte.gz";
}

std::string FashionMnistLabelsFile(FashionMnistSplit split) {
  return split == FashionMnistSplit::train ? "train-labels-idx1-ubyte.gz"
                                           : "t10k-labels-idx1-ubyte.gz";
}

Result<LabeledImages> ReadFashionMnist(const std::string& dir, FashionMnistSplit split) {
  const std::string images_path = dir + "/" + FashionMnistImagesFile(split);
  const std::string labels_path = dir + "/" + FashionMnistLabelsFile(split);
  Result<IdxArray> images = ReadIdxUbyteGz(images_path, kImagesMagic);
  if (!images.ok()) return images.status();
  if (images->dims.size() != 3) {
    return Status::Error(images_path + ": expected 3 dims (count, rows, cols), the header has " +
                         std::to_string(images->dims.size()));
  }
  Result<IdxArray> labels = ReadIdxUbyteGz(labels_path, kLabelsMagic);
  if (!labels.ok()) return labels.status();
  if (labels->dims.size() != 1) {
    return Status::Error(labels_path + ": expected 1 dim (count), the header has " +
                         std::to_string(labels->dims.size()));
  }
  if (labels->dims[0] != images->dims[0]) {
    return Status::Error(labels_path + ": holds " + std::to_string(labels->dims[0]) +
                         " labels but " + images_path + " holds " +
                         std::to_string(images->dims[0]) + " images");
  }
  for (size_t i = 0; i < labels->values.size(); ++i) {
    if (labels->values[i] >= kFashionMnistClasses) {
      return Status::Error(labels_path + ": label " + std::to_string(i) + " is " +
                           std::to_string(labels->values[i]) + ", outside 0..9 (corrupt file)");
    }
  }
  LabeledImages out;
  out.count = images->dims[0];
  out.rows = images->dims[1];
  out.cols = images->dims[2];
  out.images = std::move(images->values);
  out.labels = std::move(labels->values);
  return out;
}

}  // namespace joulecast
