// The GGUF header check: magic, version, and the tensor and metadata counts against what the file can hold.
#include <cstdint>
#include <span>

#include "container/gguf_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)picklewall::detail::check_gguf(std::span<const std::uint8_t>(data, size));
  return 0;
}
