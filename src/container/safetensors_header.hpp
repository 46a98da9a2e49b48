// safetensors validated by the reference reader's rules (shared/spec/formats.md section 1), in its order and
// with its error names, so a file that any loader would refuse or read differently is reported.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace picklewall::detail {

struct SafetensorsCheck {
  bool valid = false;
  std::string error_name;  // HeaderTooSmall, InvalidOffset, MetadataIncompleteBuffer, ... when not valid
  std::string message;
  std::uint64_t tensors = 0;
};

SafetensorsCheck check_safetensors(std::span<const std::uint8_t> bytes);

}  // namespace picklewall::detail
