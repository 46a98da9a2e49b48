// The zip compression methods besides deflate that Python's zipfile reads (so numpy.load of an .npz does):
// bzip2 (method 12) and LZMA (method 14), under the same budget rule as inflate_bounded.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/bounded_inflate.hpp"

namespace picklewall::detail {

// A bzip2 stream, as zipfile's BZ2Decompressor reads it.
InflateStatus bunzip_bounded(std::span<const std::uint8_t> input, std::uint64_t cap, std::vector<std::uint8_t>& out,
                             const Budget& budget);

// A zip LZMA member: a 4-byte header (LZMA SDK version, properties size), the LZMA1 properties, then raw LZMA1
// data, with or without an end marker, as zipfile's LZMADecompressor reads it.
InflateStatus unlzma_zip_bounded(std::span<const std::uint8_t> input, std::uint64_t cap,
                                 std::vector<std::uint8_t>& out, const Budget& budget);

}  // namespace picklewall::detail
