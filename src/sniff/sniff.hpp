// Content detection: what a file is, from its bytes, never from its name.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace picklewall::detail {

enum class ContentKind {
  empty,
  pickle_with_proto,  // starts with PROTO 0-5: a pickle of protocol 2 or later
  zip,
  gzip, bzip2, xz, lzma, zstd, lz4, zlib, seven_zip, tar,
  numpy_npy, safetensors, gguf, hdf5, onnx,
  other,              // maybe a protocol 0/1 pickle, maybe nothing: decided by trying
};

ContentKind sniff(std::span<const std::uint8_t> bytes);
// The shape of a safetensors file (u64 header length that fits, then '{'), checked in a few byte reads. sniff
// tests magic numbers first, and a header length can imitate one (128 reads as a pickle's PROTO 0).
bool looks_like_safetensors(std::span<const std::uint8_t> bytes);
std::string_view to_string(ContentKind kind);

}  // namespace picklewall::detail
