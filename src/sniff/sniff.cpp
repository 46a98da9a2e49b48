#include "sniff/sniff.hpp"

#include <cstring>

#include "io/checked.hpp"

namespace picklewall::detail {
namespace {

bool starts_with(std::span<const std::uint8_t> bytes, std::string_view magic) {
  return bytes.size() >= magic.size() && std::memcmp(bytes.data(), magic.data(), magic.size()) == 0;
}

bool looks_like_tar(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 512 && std::memcmp(bytes.data() + 257, "ustar", 5) == 0;
}

// ONNX ModelProto (protobuf, fields in number order): ir_version (field 1, varint) first, then one of
// producer_name .. opset_import (fields 2-8).
bool looks_like_onnx(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 3 || bytes[0] != 0x08 || bytes[1] < 1 || bytes[1] > 20) return false;
  switch (bytes[2]) {
    case 0x12: case 0x1a: case 0x22: case 0x28: case 0x32: case 0x3a: case 0x42: return true;
    default: return false;
  }
}

}  // namespace

// safetensors: u64 header length N, then N bytes of JSON starting with '{' (whitespace tolerated).
bool looks_like_safetensors(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 10) return false;
  std::uint64_t length = load_le(bytes.data(), 8);
  if (length < 2 || !range_fits(8, length, bytes.size())) return false;
  std::size_t i = 8;
  while (i < 8 + length && (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t')) ++i;
  return i < 8 + length && bytes[i] == '{';
}

ContentKind sniff(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return ContentKind::empty;
  if (bytes.size() >= 2 && bytes[0] == 0x80 && bytes[1] <= 5) return ContentKind::pickle_with_proto;
  if (starts_with(bytes, "PK\x03\x04") || starts_with(bytes, "PK\x05\x06") || starts_with(bytes, "PK\x07\x08"))
    return ContentKind::zip;
  if (starts_with(bytes, "\x1f\x8b")) return ContentKind::gzip;
  if (starts_with(bytes, "BZh")) return ContentKind::bzip2;
  if (starts_with(bytes, "\xfd" "7zXZ\x00")) return ContentKind::xz;
  if (starts_with(bytes, "\x28\xb5\x2f\xfd")) return ContentKind::zstd;
  if (starts_with(bytes, "\x04\x22\x4d\x18")) return ContentKind::lz4;
  if (starts_with(bytes, "7z\xbc\xaf\x27\x1c")) return ContentKind::seven_zip;
  if (starts_with(bytes, "\x93NUMPY")) return ContentKind::numpy_npy;
  if (starts_with(bytes, "GGUF")) return ContentKind::gguf;
  if (starts_with(bytes, "\x89HDF\r\n\x1a\n")) return ContentKind::hdf5;
  if (bytes.size() >= 3 && bytes[0] == 0x5d && bytes[1] == 0x00 && bytes[2] == 0x00) return ContentKind::lzma;
  if (bytes.size() >= 2 && bytes[0] == 0x78 && (bytes[1] == 0x01 || bytes[1] == 0x5e || bytes[1] == 0x9c || bytes[1] == 0xda) &&
      ((bytes[0] << 8) | bytes[1]) % 31 == 0)
    return ContentKind::zlib;
  if (looks_like_tar(bytes)) return ContentKind::tar;
  if (looks_like_onnx(bytes)) return ContentKind::onnx;
  if (looks_like_safetensors(bytes)) return ContentKind::safetensors;
  return ContentKind::other;
}

std::string_view to_string(ContentKind kind) {
  switch (kind) {
    case ContentKind::empty: return "empty";
    case ContentKind::pickle_with_proto: return "pickle";
    case ContentKind::zip: return "zip";
    case ContentKind::gzip: return "gzip";
    case ContentKind::bzip2: return "bzip2";
    case ContentKind::xz: return "xz";
    case ContentKind::lzma: return "lzma";
    case ContentKind::zstd: return "zstd";
    case ContentKind::lz4: return "lz4";
    case ContentKind::zlib: return "zlib";
    case ContentKind::seven_zip: return "7z";
    case ContentKind::tar: return "tar";
    case ContentKind::numpy_npy: return "numpy";
    case ContentKind::safetensors: return "safetensors";
    case ContentKind::gguf: return "gguf";
    case ContentKind::hdf5: return "hdf5";
    case ContentKind::onnx: return "onnx";
    case ContentKind::other: return "unknown";
  }
  return "unknown";
}

}  // namespace picklewall::detail
