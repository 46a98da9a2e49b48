#include "scan/file_walker.hpp"

#include <algorithm>
#include <cstdint>
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

// Directories are entered once each (a symlink loop stops at the second visit).
std::vector<WalkedPath> walk_all(const std::vector<std::string>& paths, std::uint64_t max_files) {
  std::vector<WalkedPath> out;
  std::set<FileIdentity> visited;
  for (const std::string& given : paths) {
    std::error_code error;
    const fs::file_status status = fs::status(given, error);
    if (error || !fs::exists(status)) {
      out.push_back({given, "no such file or directory"});
      continue;
    }
    if (fs::is_regular_file(status)) {
      out.push_back({given, {}});
      continue;
    }
    if (!fs::is_directory(status)) {
      out.push_back({given, "not a regular file or directory"});
      continue;
    }
    // Pre-order walk in name order with an explicit stack: a directory's entries are pushed in reverse.
    std::vector<fs::path> pending{fs::path(given)};
    bool first = true;
    while (!pending.empty()) {
      fs::path current = std::move(pending.back());
      pending.pop_back();
      std::error_code entry_error;
      if (!first && fs::is_regular_file(current, entry_error)) {
        if (out.size() >= max_files) return out;
        out.push_back({current.string(), {}});
        continue;
      }
      first = false;
      if (!fs::is_directory(current, entry_error)) continue;  // sockets, fifos, devices, broken links
      FileIdentity identity;
      if (file_identity(current, identity) && !visited.insert(identity).second) continue;
      std::vector<fs::path> entries;
      fs::directory_iterator iterator(current, fs::directory_options::skip_permission_denied, error);
      if (error) {
        out.push_back({current.string(), "cannot list directory: " + error.message()});
        continue;
      }
      for (const auto& entry : iterator) entries.push_back(entry.path());
      std::sort(entries.begin(), entries.end());
      for (auto it = entries.rbegin(); it != entries.rend(); ++it) pending.push_back(*it);
    }
  }
  return out;
}

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
  return one_path_per_file(walk_all(paths, max_files));
}

}  // namespace picklewall::detail
