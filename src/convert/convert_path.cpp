// `convert` as the command and the Python package call it: the output is staged beside its final place and
// renamed in whole; the conversion itself runs in a sandboxed worker that asks this process for each file.
#include <filesystem>

#include "convert/converter.hpp"
#include "convert/output_staging.hpp"
#include "isolation/supervisor.hpp"
#include "picklewall/convert.hpp"

namespace picklewall {
namespace {

namespace fs = std::filesystem;

bool same_file(const std::string& a, const std::string& b) {
  std::error_code error;
  return fs::exists(b, error) && fs::equivalent(a, b, error);
}

// `inner` is `outer` or inside it.
bool inside(const fs::path& inner, const fs::path& outer) {
  std::error_code error;
  const fs::path a = fs::weakly_canonical(fs::absolute(inner, error), error);
  const fs::path b = fs::weakly_canonical(fs::absolute(outer, error), error);
  auto mismatch = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
  return mismatch.first == b.end();
}

// Bytes the conversion will read, for its hard time limit: the file, or a folder's top-level files.
std::uint64_t input_bytes(const std::string& input, bool folder) {
  std::error_code error;
  if (!folder) return fs::file_size(input, error);
  std::uint64_t total = 0;
  for (const auto& entry : fs::directory_iterator(input, error))
    if (entry.is_regular_file(error)) total += entry.file_size(error);
  return total;
}

}  // namespace

Result<ConvertResult> convert_path(const std::string& input, const std::string& output, const ConvertOptions& given) {
  ConvertOptions options = given;
  if (!options.policy) {
    auto policy = Policy::builtin();
    if (!policy) return policy.error();
    options.policy = policy.value();
  }
  std::error_code error;
  if (!fs::exists(input, error)) return Error{ErrorCode::not_found, input + ": no such file or directory"};
  const bool folder = fs::is_directory(input, error);
  if (same_file(input, output)) return Error{ErrorCode::invalid_argument, output + " is the input itself"};
  if (folder && inside(output, input))
    return Error{ErrorCode::invalid_argument, "the output folder " + output + " is inside the input folder"};
  auto staging = folder ? detail::OutputStaging::for_folder(output) : detail::OutputStaging::for_file(output);
  if (!staging) return staging.error();
  const std::string output_name = fs::path(output).filename().string();

  Result<ConvertResult> result = Error{ErrorCode::io, "nothing converted"};
  if (options.isolation == Isolation::in_process) {
    if (folder) {
      result = detail::convert_folder_into(input, staging.value(), options);
    } else {
      auto converted = detail::convert_file_into(input, output_name, staging.value(), options);
      if (converted) result = ConvertResult{{std::move(converted.value())}, {}, {}};
      else result = converted.error();
    }
  } else {
    ScanOptions scan_options;
    scan_options.limits = options.limits;
    scan_options.policy = options.policy;
    scan_options.hash_files = false;
    auto pool = WorkerPool::create(scan_options, options.worker_settings);
    if (!pool) return pool.error();
    result = detail::convert_in_worker(*pool.value(), input, folder, output_name, staging.value(), options,
                                       input_bytes(input, folder));
  }
  if (!result) return result.error();  // the staging area goes with `staging`: nothing is left behind
  for (ConvertReport& report : result.value().conversions)
    report.output = folder ? (fs::path(output) / report.output).string() : output;
  if (Status committed = staging.value().commit(); !committed) return committed.error();
  return result;
}

}  // namespace picklewall
