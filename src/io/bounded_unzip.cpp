#include "io/bounded_unzip.hpp"

#include <bzlib.h>
#include <lzma.h>

#include <algorithm>
#include <cstdlib>

namespace picklewall::detail {
namespace {

// One output chunk at a time, the clock every 256 chunks, the cap checked before anything is kept: the loop
// inflate_bounded runs, for any decoder. `step` fills `chunk` and says how much it made and whether it is done.
enum class Step { more, end, corrupt };

template <class Decode>
InflateStatus drain(std::uint64_t cap, std::vector<std::uint8_t>& out, const Budget& budget, Decode step) {
  out.clear();
  std::vector<std::uint8_t> chunk(1 << 16);
  for (std::uint64_t round = 1;; ++round) {
    if (round % 256 == 0 && budget.expired()) return InflateStatus::out_of_time;
    std::size_t produced = 0;
    bool input_left = true;
    const Step result = step(chunk, produced, input_left);
    if (result == Step::corrupt) return InflateStatus::corrupt;
    if (out.size() + produced > cap) {
      out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(cap - out.size()));
      return InflateStatus::over_budget;
    }
    out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(produced));
    if (result == Step::end) return InflateStatus::complete;
    if (produced == 0 && !input_left) return InflateStatus::truncated;
  }
}

}  // namespace

InflateStatus bunzip_bounded(std::span<const std::uint8_t> input, std::uint64_t cap, std::vector<std::uint8_t>& out,
                             const Budget& budget) {
  bz_stream stream{};
  if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) return InflateStatus::corrupt;
  std::uint64_t consumed = 0;
  const InflateStatus status = drain(cap, out, budget, [&](std::vector<std::uint8_t>& chunk, std::size_t& produced,
                                                           bool& input_left) {
    const auto available = static_cast<unsigned>(std::min<std::uint64_t>(input.size() - consumed, 1u << 30));
    stream.next_in = const_cast<char*>(reinterpret_cast<const char*>(input.data() + consumed));
    stream.avail_in = available;
    stream.next_out = reinterpret_cast<char*>(chunk.data());
    stream.avail_out = static_cast<unsigned>(chunk.size());
    const int result = BZ2_bzDecompress(&stream);
    consumed += available - stream.avail_in;
    produced = chunk.size() - stream.avail_out;
    input_left = consumed < input.size();
    if (result == BZ_STREAM_END) return Step::end;
    return result == BZ_OK ? Step::more : Step::corrupt;
  });
  BZ2_bzDecompressEnd(&stream);
  return status;
}

InflateStatus unlzma_zip_bounded(std::span<const std::uint8_t> input, std::uint64_t cap,
                                 std::vector<std::uint8_t>& out, const Budget& budget) {
  out.clear();
  if (input.size() < 4) return InflateStatus::truncated;
  const std::uint64_t properties_size = input[2] | (input[3] << 8);
  if (input.size() < 4 + properties_size) return InflateStatus::truncated;
  lzma_filter filters[2] = {{LZMA_FILTER_LZMA1, nullptr}, {LZMA_VLI_UNKNOWN, nullptr}};
  if (lzma_properties_decode(&filters[0], nullptr, input.data() + 4, properties_size) != LZMA_OK)
    return InflateStatus::corrupt;
  lzma_stream stream = LZMA_STREAM_INIT;
  if (lzma_raw_decoder(&stream, filters) != LZMA_OK) {
    std::free(filters[0].options);
    return InflateStatus::corrupt;
  }
  std::free(filters[0].options);  // the decoder copied what it needs
  const auto data = input.subspan(4 + properties_size);
  std::uint64_t consumed = 0;
  const InflateStatus status = drain(cap, out, budget, [&](std::vector<std::uint8_t>& chunk, std::size_t& produced,
                                                           bool& input_left) {
    stream.next_in = data.data() + consumed;
    stream.avail_in = data.size() - consumed;
    stream.next_out = chunk.data();
    stream.avail_out = chunk.size();
    const lzma_ret result = lzma_code(&stream, LZMA_RUN);
    consumed = data.size() - stream.avail_in;
    produced = chunk.size() - stream.avail_out;
    input_left = consumed < data.size();
    if (result == LZMA_STREAM_END) return Step::end;
    if (result != LZMA_OK && result != LZMA_BUF_ERROR) return Step::corrupt;
    // Without an end marker the data simply stops: zipfile takes what it made (the CRC check follows).
    if (!input_left && produced == 0) return Step::end;
    return Step::more;
  });
  lzma_end(&stream);
  return status;
}

}  // namespace picklewall::detail
