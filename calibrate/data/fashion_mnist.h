// Fashion-MNIST from the idx files Debian's dataset-fashion-mnist installs: gzip-compressed idx
// "ubyte" arrays (images: magic 2051, dims count x rows x cols; labels: magic 2049, dims count).
// Read with zlib into plain byte vectors; no libtorch here.
//
// Every malformed input is an error naming the file: missing, not gzip or truncated, a wrong
// magic number, dims that are zero or absurd, a payload shorter or longer than the dims say,
// image and label counts that differ, or a label outside 0..9.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyzer/core/status.h"

namespace joulecast {

/// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Number of classes (labels are 0..9).
inline constexpr int kFashionMnistClasses = 10;

/// One idx array of unsigned bytes: its dims and its values in row-major order.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;
};

/// Reads a (gzip-compressed, or plain: zlib reads both) idx file of unsigned bytes whose magic
/// number must be `expected_magic` (2049 for labels, 2051 for images). Fails, naming `path`, on
/// anything malformed; no dim may exceed 2^24 and the payload may not exceed 2^31 bytes.
Result<IdxArray> ReadIdxUbyteGz(const std::string& path, uint32_t expected_magic);

/// Images and their labels.
struct LabeledImages {
  int64_t count = 0;            ///< Number of images (and labels).
  int64_t rows = 0;             ///< Image height in pixels.
  int64_t cols = 0;             ///< Image width in pixels.
  std::vector<uint8_t> images;  ///< count x rows x cols pixels, 0..255, row-major.
  std::vector<uint8_t> labels;  ///< count labels, each 0..9.
};

enum class FashionMnistSplit { train, test };

/// File names of a split: "train-images-idx3-ubyte.gz" / "t10k-labels-idx1-ubyte.gz", ...
std::string FashionMnistImagesFile(FashionMnistSplit split);
std::string FashionMnistLabelsFile(FashionMnistSplit split);

/// Reads one split from `dir` (60,000 training or 10,000 test images of 28x28 in the real
/// dataset; the reader accepts any consistent size so tests can use small files).
Result<LabeledImages> ReadFashionMnist(const std::string& dir, FashionMnistSplit split);

}  // namespace joulecast
