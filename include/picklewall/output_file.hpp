// A report file that appears whole or not at all, created before the scan starts: its temporary file (beside the
// target) exists before the sandbox is entered, and commit() only writes to it and renames it in its directory,
// which is all the sandbox still allows.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "picklewall/result.hpp"

namespace picklewall {

class OutputFile {
 public:
  static Result<OutputFile> create(const std::string& path);
  OutputFile(OutputFile&&) noexcept;
  OutputFile& operator=(OutputFile&&) noexcept;
  ~OutputFile();  // without commit(): the temporary file is removed and the target left as it was

  // Writes `content`, fsyncs it and renames it over the target.
  Status commit(std::string_view content);
  // The target's directory, open: SandboxOptions::output_directory_fd.
  int directory_fd() const;

 private:
  struct State;
  explicit OutputFile(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace picklewall
