// The zip reader: central directory, local headers, zip64, data descriptors, and inflating every member within
// the decompression budget.
#include <cstdint>
#include <span>
#include <vector>

#include "container/zip_archive.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace picklewall;
  using namespace picklewall::detail;
  const std::span<const std::uint8_t> input(data, size);
  const Limits limits = fuzz::fuzz_limits();
  const Budget budget = fuzz::fuzz_budget(limits);
  std::vector<Finding> findings;
  auto archive = read_zip(input, limits, budget, "", findings);
  if (!archive) return 0;
  for (const auto& entry : archive.value().entries) {
    if (!entry.readable) continue;
    std::vector<std::uint8_t> storage;
    auto member = read_zip_entry(input, entry, limits, budget, storage);
    if (member) (void)zip_crc_matches(entry, member.value());
  }
  return 0;
}
