// Where a conversion's outputs are made before they appear. A converter never creates files itself: it asks an
// OutputSink for each file by name. In a sandboxed worker the sink is a broker on the other end of its channel;
// the broker is an OutputStaging, in the supervisor, that creates only plain names inside its own staging area:
// a temporary file beside an output file, or a temporary folder beside an output folder. commit() makes every
// file durable and renames the whole staging area into place; without it, everything it created is removed.
#pragma once

#include <string>
#include <vector>

#include "io/unique_fd.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // A new, empty file, open to read and write, that will be the output named `name`: a plain file name, never
  // a path (no '/', not "." or "..", nothing that already exists in the output).
  virtual Result<UniqueFd> create(const std::string& name) = 0;
};

// True for a name a sink may create: one path component, not hidden, no control characters.
bool plain_output_name(const std::string& name);

class OutputStaging : public OutputSink {
 public:
  // One output file: create() is called once, with the output's own file name.
  static Result<OutputStaging> for_file(const std::string& output);
  // An output folder, which must not exist yet or must be an empty folder.
  static Result<OutputStaging> for_folder(const std::string& output);
  OutputStaging(OutputStaging&& other) noexcept;
  OutputStaging& operator=(OutputStaging&&) = delete;
  OutputStaging(const OutputStaging&) = delete;
  OutputStaging& operator=(const OutputStaging&) = delete;
  ~OutputStaging() override;

  Result<UniqueFd> create(const std::string& name) override;
  // Syncs every file and renames the staging area over the output: the output appears whole or not at all.
  Status commit();

 private:
  OutputStaging(bool folder, std::string output, UniqueFd parent, std::string staging_name, std::string output_name);
  void discard();
  bool folder_;
  std::string output_;        // as given, for messages
  UniqueFd parent_;           // the folder the output goes into, held open
  std::string staging_name_;  // the temporary file or folder inside parent_
  std::string output_name_;   // the output's name inside parent_
  UniqueFd staging_;          // folder: the staging folder itself
  std::vector<std::string> created_;  // folder: names created inside it
  std::vector<UniqueFd> files_;       // everything created, kept open to be synced
  bool committed_ = false;
};

}  // namespace picklewall::detail
