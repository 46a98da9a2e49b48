#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace picklewall::detail {

// Hex SHA-256 of the bytes (OpenSSL EVP).
std::string sha256_hex(std::span<const std::uint8_t> bytes);

}  // namespace picklewall::detail
