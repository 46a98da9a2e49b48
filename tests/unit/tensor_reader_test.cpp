// TensorReader: the load API's contract on buffers and refusals, over files written byte by byte.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "picklewall/load.hpp"

namespace {

namespace fs = std::filesystem;

class TempFile {
 public:
  TempFile(const std::string& name, const std::string& bytes)
      : path_(fs::temp_directory_path() / ("picklewall-reader-" + std::to_string(::getpid()) + "-" + name)) {
    std::ofstream(path_, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() { fs::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// A version 1.0 .npy of three big-endian int32: 1, 2, 258.
std::string big_endian_npy() {
  std::string header = "{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY\x01";
  out += '\0';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out += std::string("\0\0\0\x01\0\0\0\x02\0\0\x01\x02", 12);
  return out;
}

}  // namespace

TEST(TensorReader, ReadsLittleEndianBytesIntoTheCallersBuffer) {
  TempFile file("array.npy", big_endian_npy());
  auto reader = picklewall::TensorReader::open(file.path(), {});
  ASSERT_TRUE(reader) << reader.error().message;
  ASSERT_EQ(reader.value().tensors().size(), 1u);
  const auto& spec = reader.value().tensors()[0];
  EXPECT_EQ(spec.dtype, "I32");
  EXPECT_EQ(spec.shape, std::vector<std::uint64_t>{3});
  EXPECT_EQ(spec.bytes, 12u);
  std::vector<std::uint8_t> buffer(12);
  ASSERT_TRUE(reader.value().read(0, buffer));
  EXPECT_EQ(buffer, (std::vector<std::uint8_t>{1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 0, 0}));
}

TEST(TensorReader, WrongBufferSizesAndIndexesAreRefused) {
  TempFile file("array.npy", big_endian_npy());
  auto reader = picklewall::TensorReader::open(file.path(), {});
  ASSERT_TRUE(reader);
  std::vector<std::uint8_t> short_buffer(11), long_buffer(13), exact(12);
  EXPECT_EQ(reader.value().read(0, short_buffer).error().code, picklewall::ErrorCode::invalid_argument);
  EXPECT_EQ(reader.value().read(0, long_buffer).error().code, picklewall::ErrorCode::invalid_argument);
  EXPECT_EQ(reader.value().read(1, exact).error().code, picklewall::ErrorCode::invalid_argument);
}

TEST(TensorReader, UnsafeAndMissingFilesAreRefusedWithTheRightCode) {
  // os.system('true'), protocol 2
  TempFile evil("evil.pkl", std::string("\x80\x02" "cos\nsystem\nX\x04\0\0\0trueR.", 24));
  auto refused = picklewall::TensorReader::open(evil.path(), {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, picklewall::ErrorCode::refused);
  EXPECT_NE(refused.error().message.find("global.dangerous"), std::string::npos) << refused.error().message;
  auto missing = picklewall::TensorReader::open(evil.path() + ".missing", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, picklewall::ErrorCode::not_found);
}
