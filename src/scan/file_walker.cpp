#include "scan/file_walker.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "io/file_stamp.hpp"

namespace picklewall::detail {

namespace fs = std::filesystem;

namespace {

using FileIdentity = std::pair<std::uint64_t, std::uint64_t>;  // (device, inode)

// (device, inode) of a path, following symlinks: what makes two names the same file or directory.
bool file_identity(const fs::path& path, FileIdentity& identity, std::uint64_t* size = nullptr) {
  const auto stamp = stamp_of(path.string());
  if (!stamp) return false;
  identity = {stamp->device, stamp->inode};
  if (size != nullptr) *size = stamp->size;
  return true;
}

// What a path is, in words a report can give, when it is not a regular file or a directory.
std::string kind_in_words(fs::file_type type) {
  switch (type) {
    case fs::file_type::fifo: return "a FIFO (named pipe): what a loader reads from it cannot be scanned";
    case fs::file_type::socket: return "a socket, not a file that can be scanned";
    case fs::file_type::block: return "a block device, not a file that can be scanned";
    case fs::file_type::character: return "a character device, not a file that can be scanned";
    default: return "not a regular file or directory";
  }
}

// Why a path cannot be followed, from lstat/stat: a symlink whose target is missing or loops is named so.
std::string unreachable_reason(const fs::path& path, const std::error_code& error) {
  std::error_code ignored;
  const bool link = fs::is_symlink(fs::symlink_status(path, ignored));
  if (error.value() == ELOOP) return "symbolic link loop (too many levels of symbolic links)";
  if (link && (error.value() == ENOENT || error.value() == ENOTDIR))
    return "dangling symbolic link (its target does not exist)";
  if (error.value() == ENOENT) return "no such file or directory";
  return "cannot be read: " + error.message();
}

class Walker {
 public:
  explicit Walker(std::uint64_t max_files) : max_files_(max_files) {}

  std::vector<WalkedPath> walk(const std::vector<std::string>& paths) {
    for (const std::string& given : paths) {
      if (limit_reached_) break;
      std::error_code error;
      const fs::file_status status = fs::status(given, error);
      if (error || !fs::exists(status)) {
        fail(given, unreachable_reason(given, error ? error : std::make_error_code(std::errc::no_such_file_or_directory)));
        continue;
      }
      if (fs::is_regular_file(status)) {
        add_file(given);
        continue;
      }
      if (!fs::is_directory(status)) {
        fail(given, kind_in_words(status.type()));
        continue;
      }
      walk_directory(given);
    }
    return std::move(out_);
  }

 private:
  void add_file(const std::string& path) {
    if (out_.size() >= max_files_) {
      limit_reached_ = true;
      out_.push_back({path, "the walk stopped at " + std::to_string(max_files_) +
                                " files (max_files); this and every later path were not scanned", true});
      return;
    }
    out_.push_back({path, {}});
  }
  void fail(const std::string& path, std::string reason) { out_.push_back({path, std::move(reason)}); }

  // Pre-order walk in name order with an explicit stack: a directory's entries are pushed in reverse. Every
  // entry is accounted for: regular files are scanned, directories entered (each once, so a symlink cycle ends
  // at its second visit), and anything else (unreadable directories, FIFOs, sockets, devices, dangling or
  // looping links) is reported as a path that could not be scanned.
  void walk_directory(const std::string& root) {
    std::vector<fs::path> pending{fs::path(root)};
    while (!pending.empty() && !limit_reached_) {
      const fs::path current = std::move(pending.back());
      pending.pop_back();
      std::error_code error;
      const fs::file_status status = fs::status(current, error);
      if (error) {
        fail(current.string(), unreachable_reason(current, error));
        continue;
      }
      if (fs::is_regular_file(status)) {
        add_file(current.string());
        continue;
      }
      if (!fs::is_directory(status)) {
        fail(current.string(), kind_in_words(status.type()));
        continue;
      }
      FileIdentity identity;
      if (file_identity(current, identity) && !visited_.insert(identity).second) continue;
      std::vector<fs::path> entries;
      fs::directory_iterator iterator(current, fs::directory_options::none, error);
      if (error) {
        fail(current.string(), "cannot list directory: " + error.message() + "; nothing in it was scanned");
        continue;
      }
      for (fs::directory_iterator end; iterator != end; iterator.increment(error)) {
        if (error) break;
        entries.push_back(iterator->path());
      }
      if (error) {
        fail(current.string(), "listing the directory failed part-way: " + error.message() +
                                   "; some of its entries were not scanned");
      }
      std::sort(entries.begin(), entries.end());
      for (auto it = entries.rbegin(); it != entries.rend(); ++it) pending.push_back(*it);
    }
  }

  std::uint64_t max_files_;
  bool limit_reached_ = false;
  std::vector<WalkedPath> out_;
  std::set<FileIdentity> visited_;
};

// The same content reached twice (Hugging Face cache snapshots are symlinks into blobs/; hard links; a path
// given twice) is scanned once. The name kept is the first one under a `snapshots` folder, which is the name
// the repository gives the file, else the first one walked.
std::vector<WalkedPath> one_path_per_file(std::vector<WalkedPath> walked) {
  std::map<FileIdentity, std::size_t> first_by_file;
  std::vector<bool> keep(walked.size(), true);
  for (std::size_t i = 0; i < walked.size(); ++i) {
    if (!walked[i].error.empty()) continue;
    FileIdentity identity;
    if (!file_identity(walked[i].path, identity, &walked[i].size)) continue;
    auto [it, inserted] = first_by_file.try_emplace(identity, i);
    if (inserted) continue;
    const auto in_snapshots = [](const std::string& path) { return path.find("/snapshots/") != std::string::npos; };
    if (!in_snapshots(walked[it->second].path) && in_snapshots(walked[i].path)) {
      keep[it->second] = false;
      it->second = i;
    } else {
      keep[i] = false;
    }
  }
  std::vector<WalkedPath> out;
  for (std::size_t i = 0; i < walked.size(); ++i)
    if (keep[i]) out.push_back(std::move(walked[i]));
  return out;
}

}  // namespace

std::vector<WalkedPath> walk_paths(const std::vector<std::string>& paths, std::uint64_t max_files) {
  return one_path_per_file(Walker(max_files).walk(paths));
}

}  // namespace picklewall::detail
