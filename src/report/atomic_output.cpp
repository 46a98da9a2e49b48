#include "io/atomic_file.hpp"
#include "picklewall/output_file.hpp"
#include "picklewall/report.hpp"

namespace picklewall {

struct OutputFile::State {
  detail::AtomicFile file;
};

OutputFile::OutputFile(std::unique_ptr<State> state) : state_(std::move(state)) {}
OutputFile::OutputFile(OutputFile&&) noexcept = default;
OutputFile& OutputFile::operator=(OutputFile&&) noexcept = default;
OutputFile::~OutputFile() = default;

Result<OutputFile> OutputFile::create(const std::string& path) {
  auto file = detail::AtomicFile::create(path);
  if (!file) return file.error();
  return OutputFile(std::make_unique<State>(State{std::move(file.value())}));
}

Status OutputFile::write(std::string_view content) {
  return state_->file.write({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()});
}

Status OutputFile::commit() { return state_->file.commit(); }

Status write_file_atomically(const std::string& path, const std::string& content) {
  auto file = OutputFile::create(path);
  if (!file) return file.error();
  if (Status written = file.value().write(content); !written) return written;
  return file.value().commit();
}

}  // namespace picklewall
