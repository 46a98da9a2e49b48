#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace picklewall::detail {

// Hex SHA-256 of the bytes (OpenSSL EVP).
std::string sha256_hex(std::span<const std::uint8_t> bytes);
// Hex SHA-256 of a file, read in chunks with read(2): hashing a mapped file would fault every page into this
// process and make a 10 GB checkpoint cost 10 GB of resident memory. Empty on I/O error.
// Only a regular file is hashed (a FIFO put in its place must not stall the open).
std::string sha256_file_hex(const std::string& path);
// The same for the file `fd` is open on, read from its start with pread(2) (the descriptor's offset is left
// alone).
std::string sha256_fd_hex(int fd);

}  // namespace picklewall::detail
