#include "cache/verdict_cache.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/bounded_cbor.hpp"
#include "io/sha256.hpp"
#include "picklewall/report.hpp"
#include "report/report_codec.hpp"

namespace picklewall::detail {
namespace {

// 'PWVC' in the database header's application_id field: how a picklewall cache tells itself from other
// SQLite files. user_version holds the schema version.
constexpr int application_id = 0x50575643;
constexpr int schema_version = 1;
// Rows per transaction: one fsync per batch of stores instead of one per file.
constexpr std::uint64_t rows_per_commit = 256;
// A file changed this recently may change again within the same timestamp tick; its stamp is not remembered
// (the racy-clean problem git's index has), so the next scan hashes it again.
constexpr std::int64_t stamp_settle_ns = 2'000'000'000;

class Statement {
 public:
  Statement(sqlite3* database, const char* sql) {
    if (sqlite3_prepare_v2(database, sql, -1, &statement_, nullptr) != SQLITE_OK) statement_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return statement_ != nullptr; }
  Statement& text(int index, const std::string& value) {
    sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& blob(int index, const std::vector<std::uint8_t>& value) {
    sqlite3_bind_blob(statement_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& integer(int index, std::int64_t value) {
    sqlite3_bind_int64(statement_, index, value);
    return *this;
  }
  int step() { return sqlite3_step(statement_); }
  std::string column_text(int index) {
    const auto* chars = reinterpret_cast<const char*>(sqlite3_column_text(statement_, index));
    return chars == nullptr ? std::string() : std::string(chars, static_cast<std::size_t>(sqlite3_column_bytes(statement_, index)));
  }
  std::vector<std::uint8_t> column_blob(int index) {
    const auto* bytes = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement_, index));
    return bytes == nullptr ? std::vector<std::uint8_t>()
                            : std::vector<std::uint8_t>(bytes, bytes + sqlite3_column_bytes(statement_, index));
  }
  std::int64_t column_integer(int index) { return sqlite3_column_int64(statement_, index); }

 private:
  sqlite3_stmt* statement_ = nullptr;
};

Error cache_error(sqlite3* database, const std::string& path, const std::string& what) {
  return Error{ErrorCode::io, "verdict cache " + path + ": " + what + ": " + sqlite3_errmsg(database)};
}

// A stored report has no path (the path that asks for it is filled in) and no hash (the row's key).
std::vector<std::uint8_t> encode_report(const FileReport& report) {
  FileReport stored = report;
  stored.path.clear();
  stored.sha256.clear();
  return nlohmann::json::to_cbor(report_to_json(stored));
}

std::optional<FileReport> decode_report(const std::vector<std::uint8_t>& bytes) {
  const nlohmann::json document = parse_bounded_cbor(bytes.data(), bytes.data() + bytes.size());
  if (document.is_discarded()) return std::nullopt;
  return report_from_json(document);
}

// One spelling per file for the stamp table: Hugging Face snapshot links resolve to their blob.
std::string canonical_path(const std::string& path) {
  std::error_code error;
  auto canonical = std::filesystem::weakly_canonical(path, error);
  if (error) canonical = std::filesystem::absolute(path, error);
  return error ? path : canonical.string();
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

bool worth_caching(const FileReport& report) {
  if (report.verdict == Verdict::error || report.sha256.empty()) return false;
  return std::none_of(report.findings.begin(), report.findings.end(), [](const Finding& finding) {
    return finding.rule == "limit.max_seconds_per_file" || finding.rule == "io.file-changed" ||
           finding.rule.starts_with("scan.worker");
  });
}

std::string verdict_context(const ScanOptions& options) {
  std::string text = std::string("picklewall ") + version() + "\npolicy " + options.policy->fingerprint() +
                     "\nstrict " + (options.strict ? "1" : "0") + "\nlimits";
  // Every count and byte limit, from the one table of limits. The time budget is left out: a verdict that hit
  // it is never stored, and one that did not would not change. The walk's file limit decides no verdict.
  for (const LimitInfo& limit : limit_table())
    if (limit.integer != nullptr && limit.name != "max_files")
      text += " " + std::string(limit.name) + "=" + std::to_string(options.limits.*limit.integer);
  return sha256_hex({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

Result<std::unique_ptr<VerdictCache>> VerdictCache::open(const std::string& path, std::string context) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    return Error{ErrorCode::invalid_argument, "verdict cache " + path + " is a directory; give a file path"};
  sqlite3* database = nullptr;
  if (sqlite3_open_v2(path.c_str(), &database, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    Error failure = cache_error(database, path, "cannot open");
    sqlite3_close(database);
    return failure;
  }
  std::unique_ptr<VerdictCache> cache(new VerdictCache(database, std::move(context)));
  sqlite3_busy_timeout(database, 10'000);  // another picklewall writing the same cache: wait for it

  // Checking what the file is and making a new one a cache happen in one write transaction, so processes
  // opening the same new file at once cannot see it half made. Reading the header fails for a file that is not
  // SQLite ("file is not a database"). Each statement is finalized before the next step.
  const auto single_integer = [&](const char* sql) -> std::optional<std::int64_t> {
    Statement statement(database, sql);
    if (!statement.ok() || statement.step() != SQLITE_ROW) return std::nullopt;
    return statement.column_integer(0);
  };
  if (Status begun = cache->execute("BEGIN IMMEDIATE"); !begun)
    return cache_error(database, path, sqlite3_errcode(database) == SQLITE_NOTADB ? "not a SQLite database" : "cannot lock");
  const auto id = single_integer("PRAGMA application_id");
  if (!id) return cache_error(database, path, "not a SQLite database");
  const auto schema = single_integer("PRAGMA user_version");
  const auto tables = single_integer("SELECT count(*) FROM sqlite_schema");
  if (!schema || !tables) return cache_error(database, path, "cannot read the schema");

  if (*id == 0 && *tables == 0) {
    // A new file (or an empty database): make it a cache.
    const std::string create =
        "PRAGMA application_id=" + std::to_string(application_id) + ";"
        "PRAGMA user_version=" + std::to_string(schema_version) + ";"
        "CREATE TABLE verdicts(sha256 TEXT NOT NULL, context TEXT NOT NULL, report BLOB NOT NULL,"
        " PRIMARY KEY(sha256, context)) WITHOUT ROWID;"
        "CREATE TABLE stamps(path TEXT PRIMARY KEY, device INTEGER, inode INTEGER, size INTEGER,"
        " mtime_ns INTEGER, ctime_ns INTEGER, sha256 TEXT NOT NULL) WITHOUT ROWID;";
    if (Status made = cache->execute(create.c_str()); !made) return made.error();
  } else if (*id != application_id) {
    return Error{ErrorCode::invalid_argument,
                 "verdict cache " + path + " is a SQLite database but not a picklewall cache; it was left untouched"};
  } else if (*schema != schema_version) {
    return Error{ErrorCode::invalid_argument, "verdict cache " + path + " has schema version " + std::to_string(*schema) +
                                                  ", this picklewall reads version " + std::to_string(schema_version) +
                                                  "; give another path or delete it"};
  }
  if (Status committed = cache->execute("COMMIT"); !committed) return committed.error();
  // Write-ahead logging (kept in the file once set): readers never wait for the writer, so parallel CI jobs can
  // share one cache. Switching needs a moment with no other connection; without it the cache still works, with
  // SQLite's rollback journal, so a busy switch is left to the next run.
  (void)cache->execute("PRAGMA journal_mode=WAL");
  // Every file the cache will write is opened now, before a sandbox forbids opening files to write: a read opens
  // the write-ahead log and its shared-memory index, and a persistent log is not deleted on close (which the
  // sandbox would forbid too; SQLite resets it on the next write instead).
  int persist = 1;
  (void)sqlite3_file_control(database, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  (void)cache->execute("SELECT count(*) FROM stamps");
  // Still a rollback journal (another process held the new file while this one tried to switch): each write
  // would create and delete a journal file, which the sandbox forbids. This run only reads; the next switches.
  Statement mode(database, "PRAGMA journal_mode");
  if (!mode.ok() || mode.step() != SQLITE_ROW || mode.column_text(0) != "wal")
    cache->write_error_ = Error{ErrorCode::io, "verdict cache: " + path +
                                                   " could not be switched to its write-ahead log yet, so this run "
                                                   "stores no verdicts"};
  return cache;
}

VerdictCache::~VerdictCache() {
  (void)flush();
  sqlite3_close(database_);
}

Status VerdictCache::execute(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(database_, sql, nullptr, nullptr, &message) == SQLITE_OK) return Ok{};
  Error failure{ErrorCode::io, std::string("verdict cache: ") + (message != nullptr ? message : "unknown error")};
  sqlite3_free(message);
  return failure;
}

std::optional<std::string> VerdictCache::known_hash(const std::string& path, const FileStamp& stamp) {
  std::lock_guard lock(mutex_);
  Statement select(database_, "SELECT device, inode, size, mtime_ns, ctime_ns, sha256 FROM stamps WHERE path = ?");
  if (!select.ok() || select.text(1, canonical_path(path)).step() != SQLITE_ROW) return std::nullopt;
  const FileStamp recorded{static_cast<std::uint64_t>(select.column_integer(0)),
                           static_cast<std::uint64_t>(select.column_integer(1)),
                           static_cast<std::uint64_t>(select.column_integer(2)), select.column_integer(3),
                           select.column_integer(4)};
  if (!(recorded == stamp)) return std::nullopt;
  std::string sha256 = select.column_text(5);
  if (sha256.size() != 64) return std::nullopt;
  return sha256;
}

std::optional<FileReport> VerdictCache::find(const std::string& sha256) {
  std::lock_guard lock(mutex_);
  Statement select(database_, "SELECT report FROM verdicts WHERE sha256 = ? AND context = ?");
  if (!select.ok() || select.text(1, sha256).text(2, context_).step() != SQLITE_ROW) return std::nullopt;
  auto report = decode_report(select.column_blob(0));
  if (report) report->sha256 = sha256;
  return report;
}

bool VerdictCache::begin_write_locked() {
  if (write_error_) return false;
  if (pending_ > 0) return true;
  if (Status begun = execute("BEGIN IMMEDIATE"); !begun) {
    write_error_ = begun.error();
    return false;
  }
  return true;
}

void VerdictCache::write_failed_locked() {
  write_error_ = Error{ErrorCode::io, std::string("verdict cache: cannot store a verdict: ") + sqlite3_errmsg(database_)};
  (void)execute("ROLLBACK");
  pending_ = 0;
}

bool VerdictCache::remember_stamp_locked(const std::string& path, const FileStamp& stamp, const std::string& sha256) {
  const std::int64_t settled_before = now_ns() - stamp_settle_ns;
  if (stamp.mtime_ns >= settled_before || stamp.ctime_ns >= settled_before) return true;
  Statement remember(database_,
                     "INSERT OR REPLACE INTO stamps(path, device, inode, size, mtime_ns, ctime_ns, sha256)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?)");
  return remember.ok() && remember.text(1, canonical_path(path))
                              .integer(2, static_cast<std::int64_t>(stamp.device))
                              .integer(3, static_cast<std::int64_t>(stamp.inode))
                              .integer(4, static_cast<std::int64_t>(stamp.size))
                              .integer(5, stamp.mtime_ns)
                              .integer(6, stamp.ctime_ns)
                              .text(7, sha256)
                              .step() == SQLITE_DONE;
}

void VerdictCache::store(const std::string& path, const FileStamp& stamp, const FileReport& report) {
  std::lock_guard lock(mutex_);
  if (!begin_write_locked()) return;
  Statement verdict(database_, "INSERT OR REPLACE INTO verdicts(sha256, context, report) VALUES (?, ?, ?)");
  const bool ok = verdict.ok() &&
                  verdict.text(1, report.sha256).text(2, context_).blob(3, encode_report(report)).step() == SQLITE_DONE &&
                  remember_stamp_locked(path, stamp, report.sha256);
  if (!ok) return write_failed_locked();
  if (++pending_ >= rows_per_commit) (void)commit_locked();
}

void VerdictCache::remember_stamp(const std::string& path, const FileStamp& stamp, const std::string& sha256) {
  std::lock_guard lock(mutex_);
  if (!begin_write_locked()) return;
  if (!remember_stamp_locked(path, stamp, sha256)) return write_failed_locked();
  if (++pending_ >= rows_per_commit) (void)commit_locked();
}

Status VerdictCache::commit_locked() {
  if (pending_ == 0) return Ok{};
  pending_ = 0;
  if (Status committed = execute("COMMIT"); !committed) {
    (void)execute("ROLLBACK");
    write_error_ = committed.error();
  }
  if (write_error_) return *write_error_;
  return Ok{};
}

Status VerdictCache::flush() {
  std::lock_guard lock(mutex_);
  if (Status committed = commit_locked(); !committed) return committed;
  if (write_error_) return *write_error_;
  return Ok{};
}

}  // namespace picklewall::detail
