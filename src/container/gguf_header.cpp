#include "container/gguf_header.hpp"

#include "io/checked.hpp"

namespace picklewall::detail {

GgufCheck check_gguf(std::span<const std::uint8_t> bytes) {
  GgufCheck check;
  if (bytes.size() < 24) {
    check.problem = "file is shorter than a GGUF header";
    return check;
  }
  check.version = static_cast<std::uint32_t>(load_le(bytes.data() + 4, 4));
  check.tensors = load_le(bytes.data() + 8, 8);
  check.metadata_entries = load_le(bytes.data() + 16, 8);
  // Every tensor description takes at least 24 bytes (name length, dims, type, offset) and every metadata
  // entry at least 12 (key length, type): counts beyond that are lies meant to make readers allocate.
  if (check.version < 1 || check.version > 3)
    check.problem = "unknown GGUF version " + std::to_string(check.version);
  else if (check.tensors > bytes.size() / 24)
    check.problem = "declares " + std::to_string(check.tensors) + " tensors, more than the file can describe";
  else if (check.metadata_entries > bytes.size() / 12)
    check.problem = "declares " + std::to_string(check.metadata_entries) + " metadata entries, more than the file can hold";
  else
    check.valid = true;
  return check;
}

}  // namespace picklewall::detail
