#include "convert/output_staging.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

namespace picklewall::detail {
namespace {

namespace fs = std::filesystem;

Error io_error(const std::string& what) { return Error{ErrorCode::io, what + ": " + std::strerror(errno)}; }

std::string random_suffix() {
  std::random_device random;
  return std::to_string(random()) + std::to_string(random());
}

Result<UniqueFd> open_parent(const std::string& output, std::string& name) {
  const fs::path target(output);
  name = target.filename().string();
  if (name.empty() || name == "." || name == "..")
    return Error{ErrorCode::invalid_argument, "cannot write to " + output + ": not a file or folder name"};
  const std::string parent = target.has_parent_path() ? target.parent_path().string() : std::string(".");
  UniqueFd fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return io_error("cannot write into " + parent);
  return fd;
}

}  // namespace

bool plain_output_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name == "." || name == ".." || name.front() == '.') return false;
  for (unsigned char c : name)
    if (c == '/' || c < 0x20 || c == 0x7f) return false;
  return true;
}

OutputStaging::OutputStaging(bool folder, std::string output, UniqueFd parent, std::string staging_name,
                             std::string output_name)
    : folder_(folder), output_(std::move(output)), parent_(std::move(parent)), staging_name_(std::move(staging_name)),
      output_name_(std::move(output_name)) {}

OutputStaging::OutputStaging(OutputStaging&& other) noexcept
    : folder_(other.folder_), output_(std::move(other.output_)), parent_(std::move(other.parent_)),
      staging_name_(std::move(other.staging_name_)), output_name_(std::move(other.output_name_)),
      staging_(std::move(other.staging_)), created_(std::move(other.created_)), files_(std::move(other.files_)),
      committed_(other.committed_) {
  other.committed_ = true;  // the moved-from object owns nothing to clean up
}

Result<OutputStaging> OutputStaging::for_file(const std::string& output) {
  std::string name;
  auto parent = open_parent(output, name);
  if (!parent) return parent.error();
  return OutputStaging(false, output, std::move(parent.value()), "." + name + ".picklewall-" + random_suffix() + ".tmp",
                       name);
}

Result<OutputStaging> OutputStaging::for_folder(const std::string& output) {
  std::error_code error;
  if (fs::exists(fs::symlink_status(output, error))) {
    if (!fs::is_directory(fs::symlink_status(output, error)))
      return Error{ErrorCode::invalid_argument, output + " exists and is not a folder"};
    if (!fs::is_empty(output, error))
      return Error{ErrorCode::invalid_argument,
                   output + " exists and is not empty: a conversion writes a new folder whole, never into one"};
  }
  std::string name;
  auto parent = open_parent(output, name);
  if (!parent) return parent.error();
  OutputStaging staging(true, output, std::move(parent.value()), "." + name + ".picklewall-" + random_suffix(), name);
  if (::mkdirat(staging.parent_.get(), staging.staging_name_.c_str(), 0755) != 0)
    return io_error("cannot create a folder beside " + output);
  staging.staging_.reset(::openat(staging.parent_.get(), staging.staging_name_.c_str(),
                                  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!staging.staging_) return io_error("cannot open the folder made beside " + output);
  return staging;
}

Result<UniqueFd> OutputStaging::create(const std::string& name) {
  if (!plain_output_name(name))
    return Error{ErrorCode::invalid_argument, "refused to create '" + name + "': outputs are plain file names"};
  UniqueFd fd;
  if (folder_) {
    fd.reset(::openat(staging_.get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return io_error("cannot create " + (fs::path(output_) / name).string());
    created_.push_back(name);
  } else {
    if (name != output_name_ || !files_.empty())
      return Error{ErrorCode::invalid_argument, "refused to create '" + name + "': this conversion writes " + output_};
    fd.reset(::openat(parent_.get(), staging_name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd) return io_error("cannot create a file beside " + output_);
  }
  UniqueFd kept(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!kept) return io_error("cannot keep " + name);
  files_.push_back(std::move(kept));
  return fd;
}

Status OutputStaging::commit() {
  if (!folder_ && files_.empty()) return Error{ErrorCode::io, "nothing was written for " + output_};
  for (const UniqueFd& file : files_)
    if (::fsync(file.get()) != 0) return io_error("cannot sync what was written for " + output_);
  if (folder_ && ::fsync(staging_.get()) != 0) return io_error("cannot sync the folder made for " + output_);
  // A folder replaces an empty folder of the same name in one rename; a file replaces any file.
  if (::renameat(parent_.get(), staging_name_.c_str(), parent_.get(), output_name_.c_str()) != 0)
    return io_error("cannot move the output into place as " + output_);
  committed_ = true;
  ::fsync(parent_.get());  // make the rename itself durable
  return Ok{};
}

void OutputStaging::discard() {
  files_.clear();
  if (folder_) {
    for (const std::string& name : created_) ::unlinkat(staging_.get(), name.c_str(), 0);
    staging_.reset();
    ::unlinkat(parent_.get(), staging_name_.c_str(), AT_REMOVEDIR);
  } else {
    ::unlinkat(parent_.get(), staging_name_.c_str(), 0);
  }
}

OutputStaging::~OutputStaging() {
  if (!committed_ && parent_) discard();
}

}  // namespace picklewall::detail
