// GGUF (llama.cpp) header sanity: magic, a known version, and tensor/metadata counts the file could hold.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace picklewall::detail {

struct GgufCheck {
  bool valid = false;
  std::uint32_t version = 0;
  std::uint64_t tensors = 0;
  std::uint64_t metadata_entries = 0;
  std::string problem;
};

GgufCheck check_gguf(std::span<const std::uint8_t> bytes);

}  // namespace picklewall::detail
