// Earlier verdicts in a local SQLite file, so re-scanning an unchanged model cache costs almost nothing.
//
// A verdict is looked up by the file's SHA-256 and by a context fingerprint: everything else a verdict depends
// on (policy content, limits, --strict, engine version), so a changed policy or a new release misses. To avoid
// reading a multi-GB checkpoint just to hash it again, the cache also remembers the hash of each path together
// with its stat stamp (device, inode, size, mtime, ctime), as git's index does; ctime cannot be set by a process,
// so any rewrite of the file changes the stamp.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "io/file_stamp.hpp"
#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

struct sqlite3;

namespace picklewall::detail {

class VerdictCache {
 public:
  // Opens or creates the cache. Refuses a file that is not SQLite or a SQLite database that is not a picklewall
  // cache (it is someone's data), and a cache of a newer schema.
  static Result<std::unique_ptr<VerdictCache>> open(const std::string& path, std::string context);
  ~VerdictCache();
  VerdictCache(const VerdictCache&) = delete;
  VerdictCache& operator=(const VerdictCache&) = delete;

  // The hash recorded for `path` when its stamp is exactly `stamp`.
  std::optional<std::string> known_hash(const std::string& path, const FileStamp& stamp);
  // The report stored for this content in this context; its path is left empty for the caller to fill.
  std::optional<FileReport> find(const std::string& sha256);
  // Records the report, and remembers the path's stamp.
  void store(const std::string& path, const FileStamp& stamp, const FileReport& report);
  // Remembers that `path` with this stamp has this content hash (unless the file changed too recently to trust
  // its stamp), so the next run need not hash it.
  void remember_stamp(const std::string& path, const FileStamp& stamp, const std::string& sha256);
  // Commits what was stored. A failure (the database is locked by another writer for too long, the disk is
  // full) loses only cache entries, never a report; the caller says so.
  Status flush();

 private:
  VerdictCache(sqlite3* database, std::string context) : database_(database), context_(std::move(context)) {}
  Status execute(const char* sql);
  Status commit_locked();
  // Opens a write transaction when none is open; false once writing has failed.
  bool begin_write_locked();
  bool remember_stamp_locked(const std::string& path, const FileStamp& stamp, const std::string& sha256);
  void write_failed_locked();

  sqlite3* database_;
  std::string context_;
  std::mutex mutex_;  // one connection, shared by the batch's workers
  std::uint64_t pending_ = 0;  // rows written in the open transaction
  std::optional<Error> write_error_;
};

// Whether a report is worth remembering: not an error, not one that depended on how busy the machine was (a
// time limit; the next scan may finish), not one of a file that changed while it was read.
bool worth_caching(const FileReport& report);

// The context fingerprint of a scanner's options: what, besides content, decides a verdict.
std::string verdict_context(const ScanOptions& options);

}  // namespace picklewall::detail
