// safetensors headers under the reference reader's rules: length, UTF-8, JSON, dtypes, shapes, offsets that tile
// the data section.
#include <cstdint>
#include <span>

#include "container/safetensors_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)picklewall::detail::check_safetensors(std::span<const std::uint8_t>(data, size));
  return 0;
}
