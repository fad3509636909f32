#include "calibrate/data/fashion_mnist.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/testing/test_util.h"

namespace joulecast {
namespace {

namespace fs = std::filesystem;
using joulecast::testing::TempDir;

std::vector<uint8_t> Header(uint32_t magic, std::vector<uint32_t> dims) {
  std::vector<uint8_t> out;
  auto put = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
  };
  put(magic);
  for (uint32_t d : dims) put(d);
  return out;
}

std::vector<uint8_t> Concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class FashionMnistTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  std::string WriteGz(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::string path = Path(name);
    gzFile f = gzopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (!bytes.empty()) {
      EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()));
    }
    EXPECT_EQ(gzclose(f), Z_OK);
    return path;
  }

  std::vector<uint8_t> ReadRaw(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
  }

  void WriteRaw(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  }

  // A valid split of three 2x3 images with labels 0, 9, 4.
  void WriteValidSplit(FashionMnistSplit split) {
    std::vector<uint8_t> pixels(3 * 2 * 3);
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 10);
    WriteGz(FashionMnistImagesFile(split), Concat(Header(2051, {3, 2, 3}), pixels));
    WriteGz(FashionMnistLabelsFile(split), Concat(Header(2049, {3}), {0, 9, 4}));
  }

  TempDir dir_;
};

TEST_F(FashionMnistTest, ReadsAValidSplit) {
  WriteValidSplit(FashionMnistSplit::train);
  Result<LabeledImages> r = ReadFashionMnist(dir_.path().string(), FashionMnistSplit::train);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->count, 3);
  EXPECT_EQ(r->rows, 2);
  EXPECT_EQ(r->cols, 3);
  ASSERT_EQ(r->images.size(), 18u);
  EXPECT_EQ(r->images[0], 0);
  EXPECT_EQ(r->images[17], 170);
  EXPECT_EQ(r->labels, (std::vector<uint8_t>{0, 9, 4}));
}

TEST_F(FashionMnistTest, ReadsUncompressedIdxToo) {
  std::string path = Path("plain-idx1-ubyte");
  WriteRaw(path, Concat(Header(2049, {2}), {7, 1}));
  Result<IdxArray> r = ReadIdxUbyteGz(path, 2049);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->dims, (std::vector<int64_t>{2}));
  EXPECT_EQ(r->values, (std::vector<uint8_t>{7, 1}));
}

TEST_F(FashionMnistTest, MissingFileNamesItAndThePackage) {
  Result<LabeledImages> r = ReadFashionMnist(dir_.path().string(), FashionMnistSplit::test);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(Path("t10k-images-idx3-ubyte.gz")), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("dataset-fashion-mnist"), std::string::npos);
}

TEST_F(FashionMnistTest, WrongMagicIsAnError) {
  std::string path = WriteGz("labels.gz", Concat(Header(2051, {1, 1, 1}), {0}));
  Result<IdxArray> r = ReadIdxUbyteGz(path, 2049);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path), std::string::npos);
  EXPECT_NE(r.status().message().find("magic number 0x00000803"), std::string::npos)
      << r.status().message();
}

TEST_F(FashionMnistTest, ZeroOrAbsurdDimsAreErrors) {
  std::string zero = WriteGz("zero.gz", Header(2051, {0, 28, 28}));
  Result<IdxArray> r = ReadIdxUbyteGz(zero, 2051);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("dim 0 is 0"), std::string::npos) << r.status().message();

  std::string huge = WriteGz("huge.gz", Header(2051, {1u << 24, 1u << 10, 28}));
  r = ReadIdxUbyteGz(huge, 2051);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("2^31"), std::string::npos) << r.status().message();
}

TEST_F(FashionMnistTest, ShortPayloadIsTruncated) {
  std::string path = WriteGz("short.gz", Concat(Header(2051, {2, 2, 2}), {1, 2, 3}));
  Result<IdxArray> r = ReadIdxUbyteGz(path, 2051);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(path), std::string::npos);
}

TEST_F(FashionMnistTest, ShortHeaderIsTruncated) {
  std::string path = WriteGz("header.gz", {0, 0, 8});
  Result<IdxArray> r = ReadIdxUbyteGz(path, 2051);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("header"), std::string::npos) << r.status().message();
}

TEST_F(FashionMnistTest, TrailingBytesAreAnError) {
  std::string path = WriteGz("long.gz", Concat(Header(2049, {2}), {1, 2, 3}));
  Result<IdxArray> r = ReadIdxUbyteGz(path, 2049);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("continues past"), std::string::npos) << r.status().message();
}

TEST_F(FashionMnistTest, TruncatedGzipStreamIsAnError) {
  std::vector<uint8_t> pixels(4096);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7919 >> 3);
  std::string path = WriteGz("cut.gz", Concat(Header(2051, {4, 32, 32}), pixels));
  std::vector<uint8_t> bytes = ReadRaw(path);
  bytes.resize(bytes.size() / 2);
  WriteRaw(path, bytes);
  Result<IdxArray> r = ReadIdxUbyteGz(path, 2051);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(path), std::string::npos);
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status().message();
}

TEST_F(FashionMnistTest, CorruptGzipTrailerIsAnError) {
  std::string path = WriteGz("crc.gz", Concat(Header(2049, {3}), {1, 2, 3}));
  std::vector<uint8_t> bytes = ReadRaw(path);
  bytes[bytes.size() - 6] ^= 0xff;  // Inside the CRC-32 of the gzip trailer.
  WriteRaw(path, bytes);
  Result<IdxArray> r = ReadIdxUbyteGz(path, 2049);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("corrupt gzip"), std::string::npos) << r.status().message();
}

TEST_F(FashionMnistTest, CountMismatchIsAnError) {
  WriteValidSplit(FashionMnistSplit::train);
  WriteGz(FashionMnistLabelsFile(FashionMnistSplit::train), Concat(Header(2049, {2}), {0, 1}));
  Result<LabeledImages> r = ReadFashionMnist(dir_.path().string(), FashionMnistSplit::train);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("holds 2 labels but"), std::string::npos)
      << r.status().message();
}

TEST_F(FashionMnistTest, LabelOutOfRangeIsAnError) {
  WriteValidSplit(FashionMnistSplit::test);
  WriteGz(FashionMnistLabelsFile(FashionMnistSplit::test), Concat(Header(2049, {3}), {0, 10, 1}));
  Result<LabeledImages> r = ReadFashionMnist(dir_.path().string(), FashionMnistSplit::test);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("label 1 is 10"), std::string::npos) << r.status().message();
}

// The real dataset from Debian's dataset-fashion-mnist, a declared dependency of the project.
TEST(FashionMnistInstalled, TestSplitHasTenThousandImagesOf28x28) {
  Result<LabeledImages> r = ReadFashionMnist(kFashionMnistDir, FashionMnistSplit::test);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->count, 10000);
  EXPECT_EQ(r->rows, 28);
  EXPECT_EQ(r->cols, 28);
  EXPECT_EQ(r->images.size(), 10000u * 28 * 28);
  ASSERT_EQ(r->labels.size(), 10000u);
  std::vector<int> per_class(kFashionMnistClasses, 0);
  for (uint8_t l : r->labels) {
    ASSERT_LT(l, kFashionMnistClasses);
    ++per_class[l];
  }
  for (int n : per_class) EXPECT_EQ(n, 1000);  // The test split is balanced.
}

}  // namespace
}  // namespace joulecast
