#include "io/bounded_inflate.hpp"

#include <zlib.h>

#include <algorithm>

#include "io/checked.hpp"

namespace picklewall::detail {

std::uint64_t decompression_cap(std::uint64_t compressed_size, const Limits& limits) {
  const auto by_ratio = checked_mul(std::max<std::uint64_t>(compressed_size, 1), limits.max_decompression_ratio);
  return std::min(limits.max_decompressed_bytes, by_ratio ? *by_ratio : UINT64_MAX);
}

InflateStatus inflate_bounded(std::span<const std::uint8_t> input, bool raw, std::uint64_t cap,
                              std::vector<std::uint8_t>& out, const Budget& budget) {
  out.clear();
  z_stream stream{};
  if (inflateInit2(&stream, raw ? -MAX_WBITS : MAX_WBITS) != Z_OK) return InflateStatus::corrupt;
  std::vector<std::uint8_t> chunk(1 << 16);
  std::uint64_t consumed = 0;
  InflateStatus status = InflateStatus::truncated;
  for (std::uint64_t round = 1;; ++round) {
    // The clock every 256 rounds (16 MiB of output at most): cheap next to inflating them.
    if (round % 256 == 0 && budget.expired()) {
      status = InflateStatus::out_of_time;
      break;
    }
    stream.next_in = const_cast<Bytef*>(input.data() + consumed);
    stream.avail_in = static_cast<uInt>(std::min<std::uint64_t>(input.size() - consumed, 1u << 30));
    stream.next_out = chunk.data();
    stream.avail_out = static_cast<uInt>(chunk.size());
    const uLong before = stream.total_in;
    const int result = inflate(&stream, Z_NO_FLUSH);
    consumed += stream.total_in - before;
    const std::size_t produced = chunk.size() - stream.avail_out;
    if (result != Z_OK && result != Z_STREAM_END && result != Z_BUF_ERROR) {
      status = InflateStatus::corrupt;
      break;
    }
    if (out.size() + produced > cap) {
      out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(cap - out.size()));
      status = InflateStatus::over_budget;
      break;
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(produced));
    if (result == Z_STREAM_END) {
      status = InflateStatus::complete;
      break;
    }
    if (produced == 0 && consumed >= input.size()) break;  // input used up before the end marker
  }
  inflateEnd(&stream);
  return status;
}

}  // namespace picklewall::detail
