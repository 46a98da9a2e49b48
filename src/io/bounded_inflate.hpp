// The one place that inflates deflate data from hostile files: zip members (raw deflate) and joblib's zlib
// streams, with one budget rule for both.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/budget.hpp"
#include "picklewall/limits.hpp"

namespace picklewall::detail {

// The most `compressed_size` bytes may inflate to: the per-member byte budget, and the ratio budget.
std::uint64_t decompression_cap(std::uint64_t compressed_size, const Limits& limits);

enum class InflateStatus {
  complete,
  over_budget,  // `out` holds the first `cap` bytes
  truncated,    // the stream ends before its end marker; `out` holds what came before
  corrupt,      // invalid deflate data; `out` holds what came before
  out_of_time,  // the file's time budget ran out (or the work was cancelled); `out` holds what came before
};

// Inflates `input` into `out` (replacing its contents), stopping at `cap` bytes. `raw` selects raw deflate
// (zip members) over a zlib stream (header and checksum). The file's budget is read every 16 MiB of output.
InflateStatus inflate_bounded(std::span<const std::uint8_t> input, bool raw, std::uint64_t cap,
                              std::vector<std::uint8_t>& out, const Budget& budget);

}  // namespace picklewall::detail
