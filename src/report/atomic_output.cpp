#include "io/atomic_file.hpp"
#include "picklewall/report.hpp"

namespace picklewall {

Status write_file_atomically(const std::string& path, const std::string& content) {
  auto file = detail::AtomicFile::create(path);
  if (!file) return file.error();
  if (Status status = file.value().write({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()});
      !status)
    return status;
  return file.value().commit();
}

}  // namespace picklewall
