// A report file that appears whole or not at all: a temporary file beside the target, written, then fsynced and
// renamed over the target by commit(). Created before the scan starts, so a sandboxed process (or a sandboxed
// child it forks, which shares the open file) can write() it; commit() renames, which only an unsandboxed
// process may do.
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

  // Appends `content` to the temporary file.
  Status write(std::string_view content);
  // Fsyncs what was written and renames it over the target.
  Status commit();

 private:
  struct State;
  explicit OutputFile(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace picklewall
