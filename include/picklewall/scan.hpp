// Scanning: one path in, one report per file out. Never executes anything from the input.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "picklewall/finding.hpp"
#include "picklewall/limits.hpp"
#include "picklewall/policy.hpp"
#include "picklewall/result.hpp"

namespace picklewall {
namespace detail {
class MappedFile;
}

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
  // Set by the caller (from another thread) to stop scans early, e.g. on Ctrl-C: every stage looks at it
  // where it looks at the time budget. A scan stopped this way says so (ScanStopped) and its report is not to
  // be used. Null: nothing can cancel.
  const std::atomic<bool>* cancel = nullptr;
};

// One pickle stream the scan read: a file, an archive member, or what a compressor or .npy header wrapped.
// The bytes are only valid during the visitor's call.
struct PickleStreamView {
  std::string_view member;  // "" for the file itself
  std::span<const std::uint8_t> bytes;
  std::uint64_t start = 0;  // offset of the first pickle in `bytes`
  std::size_t pickles = 0;  // how many consecutive pickles the scan read there
  bool joblib_arrays = false;  // joblib raw array data follows NumpyArrayWrapper BUILDs
};

// The report for a path that could not be read: verdict error, with the reason as its one finding (rule
// `rule`: io.error, or the limit that stopped a walk before it).
FileReport unreadable_report(const std::string& path, const std::string& message,
                             const std::string& rule = "io.error");

class Scanner {
 public:
  using PickleVisitor = std::function<void(const PickleStreamView&)>;

  static Result<Scanner> create(ScanOptions options);

  // Scans one file (I/O failure gives verdict error with a finding explaining it).
  FileReport scan_file(const std::string& path) const;
  // The same, handing every pickle stream the scan reads to `visit` (inspect decompiles them).
  FileReport scan_file_visiting(const std::string& path, const PickleVisitor& visit) const;
  // The same for a file whose SHA-256 the caller has already computed (the batch's cache lookup did).
  FileReport scan_file_hashed(const std::string& path, std::string sha256) const;
  // Scans the file `fd` is open on (read only; the descriptor stays the caller's), named `display_name` in the
  // report. `sha256`: already known (or "" for none); nothing: hashed here when hashing is on.
  FileReport scan_descriptor(int fd, const std::string& display_name, std::optional<std::string> sha256 = {},
                             const PickleVisitor* visit = nullptr) const;
  // Scans bytes already in memory, named `display_name` in the report.
  FileReport scan_bytes(std::span<const std::uint8_t> bytes, const std::string& display_name) const;
  // Scans files and directories (recursively; every regular file, judged by content), one at a time. Reports
  // come in deterministic order: arguments in order, directory entries sorted by name. Errors walking a
  // directory become reports with verdict error. scan_batch (batch_scan.hpp) does the same with worker threads.
  std::vector<FileReport> scan_paths(const std::vector<std::string>& paths) const;

  const ScanOptions& options() const { return options_; }

 private:
  explicit Scanner(ScanOptions options) : options_(std::move(options)) {}
  // `sha256` empty: not hashed; nothing: hash the file.
  FileReport scan_mapped(const std::string& path, std::optional<std::string> sha256, const PickleVisitor* visit) const;
  FileReport scan_open_file(const detail::MappedFile& file, const std::string& display_name,
                            std::optional<std::string> sha256, const PickleVisitor* visit) const;
  FileReport scan_content(std::span<const std::uint8_t> bytes, const std::string& display_name,
                          std::string sha256, const PickleVisitor* visitor = nullptr, bool file_mapped = false) const;
  ScanOptions options_;
};

}  // namespace picklewall
