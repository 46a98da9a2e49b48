// Scanning: one path in, one report per file out. Never executes anything from the input.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "picklewall/finding.hpp"
#include "picklewall/limits.hpp"
#include "picklewall/policy.hpp"
#include "picklewall/result.hpp"

namespace picklewall {

struct FileReport {
  std::string path;     // as given, or the walked directory joined with the relative path
  std::string format;   // "pickle", "pytorch-zip", "zip", "unknown", ...
  Verdict verdict = Verdict::safe;
  std::string sha256;   // hex; empty when the file could not be read or hashing was turned off
  std::uint64_t size = 0;
  std::vector<Finding> findings;
  // Every global a load would import (module.name after protocol < 3 renaming), sorted, without repeats:
  // what the file asks the interpreter for, allowlisted or not.
  std::vector<std::string> globals;
};

struct ScanOptions {
  Limits limits;
  std::shared_ptr<const Policy> policy;  // null: the built-in policy
  // SHA-256 of every file in the report. Hashing reads every byte, tensors included; without it a checkpoint
  // scan touches only the records that are unpickled, whatever the tensor bytes.
  bool hash_files = true;
  // Fail anything not proven to be data: globals a trust policy admits are reported as suspicious, not info.
  bool strict = false;
};

class Scanner {
 public:
  static Result<Scanner> create(ScanOptions options);

  // Scans one file (I/O failure gives verdict error with a finding explaining it).
  FileReport scan_file(const std::string& path) const;
  // Scans bytes already in memory, named `display_name` in the report.
  FileReport scan_bytes(std::span<const std::uint8_t> bytes, const std::string& display_name) const;
  // Scans files and directories (recursively; every regular file, judged by content). Reports come in
  // deterministic order: arguments in order, directory entries sorted by name. Errors walking a directory
  // become reports with verdict error.
  std::vector<FileReport> scan_paths(const std::vector<std::string>& paths) const;

  const ScanOptions& options() const { return options_; }

 private:
  explicit Scanner(ScanOptions options) : options_(std::move(options)) {}
  FileReport scan_content(std::span<const std::uint8_t> bytes, const std::string& display_name,
                          std::string sha256) const;
  ScanOptions options_;
};

}  // namespace picklewall
