// The picklewall command. Exit codes (the contract CI scripts rely on): 0 every file safe; 1 a verdict reached
// --fail-on; 2 usage error, or a path that could not be read (the scan is incomplete). `inspect` exits 0 when it
// could show the file, whatever it found, and 2 otherwise. `convert` exits 0 when the output was written, 1 when
// the input was refused (its verdict is not safe and --strip-code was not given), 2 on any other error.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/progress_display.hpp"
#include "picklewall/batch_scan.hpp"
#include "picklewall/convert.hpp"
#include "picklewall/inspect.hpp"
#include "picklewall/output_file.hpp"
#include "picklewall/report.hpp"
#include "picklewall/sandbox.hpp"
#include "picklewall/scan.hpp"

namespace {

constexpr int exit_clean = 0;
constexpr int exit_findings = 1;
constexpr int exit_usage_or_io = 2;

struct PolicyArguments {
  std::vector<std::string> files;  // --policy
  std::vector<std::string> trust;  // --trust: compiled-in trust policies by name
};

struct ScanArguments {
  std::vector<std::string> paths;
  std::string format = "text";
  std::string output;
  std::string fail_on = "suspicious";
  PolicyArguments policies;
  bool show_info = false;
  std::string color = "auto";
  double max_seconds_per_file = 0;
  std::uint64_t max_memory_per_file = 0;
  unsigned jobs = 0;
  std::string cache;
  std::string progress = "auto";
  bool no_hash = false;
  bool strict = false;
  bool no_sandbox = false;
};

struct InspectArguments {
  std::string path;
  bool disasm = false;
  PolicyArguments policies;
  bool strict = false;
  std::size_t max_lines = 2000;
  std::string color = "auto";
  bool no_sandbox = false;
};

void add_policy_option(CLI::App* command, PolicyArguments& policies) {
  // One value per flag: a vector option would otherwise swallow the paths that follow it.
  command->add_option("--policy", policies.files, "Extra policy file (TOML); may be repeated")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--trust", policies.trust, "Opt-in trust policy by name; may be repeated")
      ->check(CLI::IsMember(picklewall::Policy::trust_policy_names()))
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

// The built-in policy extended by --trust policies and --policy files; a bad file is reported here (nullptr).
std::shared_ptr<picklewall::Policy> load_policy(const PolicyArguments& arguments) {
  auto policy = picklewall::Policy::with_files(arguments.files, arguments.trust);
  if (!policy) {
    std::cerr << "picklewall: " << policy.error().message << "\n";
    return nullptr;
  }
  return policy.value();
}

// Enters the sandbox unless --no-sandbox was given.
picklewall::Status enter_sandbox_unless(bool no_sandbox) {
  if (no_sandbox) return picklewall::Ok{};
  return picklewall::enter_sandbox();
}

bool color_wanted(const std::string& choice, bool to_terminal) {
  return choice == "always" || (choice == "auto" && to_terminal && ::isatty(STDOUT_FILENO) != 0);
}

int run_inspect(const InspectArguments& arguments) {
  auto policy = load_policy(arguments.policies);
  if (!policy) return exit_usage_or_io;
  picklewall::InspectOptions options;
  options.scan.policy = policy;
  options.scan.strict = arguments.strict;
  options.scan.hash_files = false;  // inspect shows code, not identity
  options.view = arguments.disasm ? picklewall::InspectView::disassembly : picklewall::InspectView::decompiled;
  options.max_lines = arguments.max_lines;
  if (picklewall::Status entered = enter_sandbox_unless(arguments.no_sandbox); !entered) {
    std::cerr << "picklewall: " << entered.error().message << "\n";
    return exit_usage_or_io;
  }
  auto report = picklewall::inspect_file(arguments.path, options);
  if (!report) {
    std::cerr << "picklewall: " << report.error().message << "\n";
    return exit_usage_or_io;
  }
  const std::string rendered = picklewall::render_inspect_text(report.value(), color_wanted(arguments.color, true));
  std::fwrite(rendered.data(), 1, rendered.size(), stdout);
  std::fflush(stdout);
  return exit_clean;
}

struct ConvertArguments {
  std::string input;
  std::string output;
  bool strip_code = false;
  bool verify = false;
  std::string key;
  PolicyArguments policies;
};

int run_convert(const ConvertArguments& arguments) {
  auto policy = load_policy(arguments.policies);
  if (!policy) return exit_usage_or_io;
  picklewall::ConvertOptions options;
  options.policy = policy;
  options.strip_code = arguments.strip_code;
  options.verify = arguments.verify;
  options.key = arguments.key;
  auto reports = picklewall::convert_path(arguments.input, arguments.output, options);
  if (!reports) {
    std::cerr << "picklewall: " << reports.error().message << "\n";
    return reports.error().code == picklewall::ErrorCode::refused ? exit_findings : exit_usage_or_io;
  }
  for (const auto& report : reports.value()) {
    std::cout << "converted " << report.input << " -> " << report.output << ": " << report.tensors.size()
              << " tensor(s), " << report.bytes_written << " bytes" << (report.verified ? ", verified" : "") << "\n";
    if (report.scan.verdict != picklewall::Verdict::safe)
      std::cout << "  input verdict " << picklewall::to_string(report.scan.verdict)
                << ": only tensor data was kept (--strip-code)\n";
    for (const auto& [dropped, kept] : report.dropped)
      std::cout << "  shared storage: " << dropped << " is an alias of " << kept << " (recorded in metadata)\n";
    for (const auto& skipped : report.skipped) std::cout << "  not a tensor, left out: " << skipped << "\n";
  }
  return exit_clean;
}

// What a scan ended in, with whether its report was written in full (to stdout or the output's temporary file).
struct ScanOutcome {
  int exit_code;
  bool report_written;
};

// Scans, renders and writes the report; the output file, if any, is written but not committed. Enters the
// sandbox once the cache is open and before the first input is read, unless --no-sandbox.
ScanOutcome scan_and_report(const ScanArguments& arguments, const picklewall::Scanner& scanner,
                            picklewall::OutputFile* output) {
  picklewall::cli::ProgressDisplay progress(arguments.progress == "always" ||
                                            (arguments.progress == "auto" && ::isatty(STDERR_FILENO) != 0));
  picklewall::BatchOptions batch_options;
  batch_options.jobs = arguments.jobs;
  batch_options.cache_path = arguments.cache;
  batch_options.on_progress = [&progress](const picklewall::BatchProgress& now) { progress.update(now); };
  batch_options.before_scanning = [&] { return enter_sandbox_unless(arguments.no_sandbox); };
  auto batch = picklewall::scan_batch(scanner, arguments.paths, batch_options);
  progress.finish();
  if (!batch) {
    std::cerr << "picklewall: " << batch.error().message << "\n";
    return {exit_usage_or_io, false};
  }
  if (!batch.value().cache_error.empty())
    std::cerr << "picklewall: warning: " << batch.value().cache_error << " (the report is complete)\n";
  const std::vector<picklewall::FileReport>& reports = batch.value().reports;

  std::string rendered;
  if (arguments.format == "json") {
    rendered = picklewall::render_json(reports);
  } else if (arguments.format == "sarif") {
    rendered = picklewall::render_sarif(reports);
  } else {
    picklewall::TextStyle style;
    style.show_info = arguments.show_info;
    style.color = color_wanted(arguments.color, output == nullptr);
    rendered = picklewall::render_text(reports, style);
  }
  if (output == nullptr) {
    std::fwrite(rendered.data(), 1, rendered.size(), stdout);
    std::fflush(stdout);
  } else if (picklewall::Status written = output->write(rendered); !written) {
    std::cerr << "picklewall: " << written.error().message << "\n";
    return {exit_usage_or_io, false};
  }

  const picklewall::Verdict threshold =
      arguments.fail_on == "malicious" ? picklewall::Verdict::malicious : picklewall::Verdict::suspicious;
  bool io_error = false, failed = false;
  for (const auto& report : reports) {
    if (report.verdict == picklewall::Verdict::error) io_error = true;
    else if (report.verdict >= threshold) failed = true;
  }
  return {io_error ? exit_usage_or_io : failed ? exit_findings : exit_clean, true};
}

// A sandboxed child's exit code says whether it wrote the whole report: report_written_base + its exit code. Any
// other code (its own error exits, the sandbox's 2, a signal) leaves the report uncommitted.
constexpr int report_written_base = 10;

// --output with the sandbox: seccomp cannot tell the report's rename from any other rename (it does not read
// paths), so the scan runs sandboxed in a child that writes the report into the temporary file both share, and
// this process, which reads no input, renames it into place once the child says the report is whole.
int scan_in_sandboxed_child(const ScanArguments& arguments, const picklewall::Scanner& scanner,
                            picklewall::OutputFile& output) {
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) {
    std::cerr << "picklewall: cannot start the scanning process: " << std::strerror(errno) << "\n";
    return exit_usage_or_io;
  }
  if (child == 0) {
    const ScanOutcome outcome = scan_and_report(arguments, scanner, &output);
    // exit, not return: the parent owns the output file; this process only leaves through its exit code (and
    // runs the sanitizers' leak check on the way out, in sanitizer builds).
    std::exit(outcome.report_written ? report_written_base + outcome.exit_code : outcome.exit_code);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      std::cerr << "picklewall: lost the scanning process: " << std::strerror(errno) << "\n";
      return exit_usage_or_io;
    }
  }
  if (WIFSIGNALED(status)) {
    std::cerr << "picklewall: the scanning process died of signal " << WTERMSIG(status) << "; no report was written\n";
    return exit_usage_or_io;
  }
  const int code = WEXITSTATUS(status);
  if (code < report_written_base) return code;
  if (picklewall::Status committed = output.commit(); !committed) {
    std::cerr << "picklewall: " << committed.error().message << "\n";
    return exit_usage_or_io;
  }
  return code - report_written_base;
}

int run_scan(const ScanArguments& arguments) {
  auto policy = load_policy(arguments.policies);
  if (!policy) return exit_usage_or_io;
  picklewall::ScanOptions options;
  options.policy = policy;
  if (arguments.max_seconds_per_file > 0) options.limits.max_seconds_per_file = arguments.max_seconds_per_file;
  if (arguments.max_memory_per_file > 0) options.limits.max_memory_per_file = arguments.max_memory_per_file;
  options.hash_files = !arguments.no_hash;
  options.strict = arguments.strict;
  auto scanner = picklewall::Scanner::create(options);
  if (!scanner) {
    std::cerr << "picklewall: " << scanner.error().message << "\n";
    return exit_usage_or_io;
  }
  if (arguments.output.empty()) return scan_and_report(arguments, scanner.value(), nullptr).exit_code;

  // The report's temporary file (beside its target) exists before anything is scanned.
  auto output = picklewall::OutputFile::create(arguments.output);
  if (!output) {
    std::cerr << "picklewall: " << output.error().message << "\n";
    return exit_usage_or_io;
  }
  if (!arguments.no_sandbox) return scan_in_sandboxed_child(arguments, scanner.value(), output.value());
  const ScanOutcome outcome = scan_and_report(arguments, scanner.value(), &output.value());
  if (!outcome.report_written) return outcome.exit_code;
  if (picklewall::Status committed = output.value().commit(); !committed) {
    std::cerr << "picklewall: " << committed.error().message << "\n";
    return exit_usage_or_io;
  }
  return outcome.exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"picklewall: find code in pickled ML models without running it"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("picklewall ") + picklewall::version());

  ScanArguments scan;
  CLI::App* scan_command = app.add_subcommand("scan", "Scan files and directories (every file, judged by content)");
  scan_command->add_option("paths", scan.paths, "Files or directories to scan")->required();
  scan_command->add_option("-f,--format", scan.format, "Output format")
      ->check(CLI::IsMember({"text", "json", "sarif"}))->capture_default_str();
  scan_command->add_option("-o,--output", scan.output, "Write the report to FILE (atomically) instead of stdout");
  scan_command->add_option("--fail-on", scan.fail_on, "Lowest verdict that makes the exit code 1")
      ->check(CLI::IsMember({"suspicious", "malicious"}))->capture_default_str();
  add_policy_option(scan_command, scan.policies);
  scan_command->add_flag("--show-info", scan.show_info, "List info-level findings in text output");
  scan_command->add_flag("--strict", scan.strict,
                         "Pass only what is proven data: code admitted by a trust policy is reported as suspicious");
  CLI::Option* no_hash_flag = scan_command->add_flag(
      "--no-hash", scan.no_hash,
      "Skip SHA-256 (sha256 is empty): a checkpoint scan then reads only what would be unpickled");
  scan_command->add_option("--color", scan.color, "Colour text output")
      ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  scan_command->add_option("--max-seconds-per-file", scan.max_seconds_per_file,
                           "Time budget per file (default from Limits)")->check(CLI::PositiveNumber);
  scan_command->add_option("--max-memory-per-file", scan.max_memory_per_file,
                           "Working-memory budget per file, e.g. 512MB (default from Limits)")
      ->transform(CLI::AsSizeValue(false));
  scan_command->add_option("-j,--jobs", scan.jobs, "Files scanned at once (default: one per core)")
      ->check(CLI::PositiveNumber);
  CLI::Option* cache_option = scan_command->add_option(
      "--cache", scan.cache, "SQLite file of earlier verdicts, keyed by content hash and policy; created if missing");
  cache_option->excludes(no_hash_flag);  // the cache is keyed by content hash
  scan_command->add_flag("--no-sandbox", scan.no_sandbox,
                         "Scan without the seccomp sandbox (which forbids starting programs, sockets and writes)");
  scan_command->add_option("--progress", scan.progress, "Progress line on stderr (auto: when stderr is a terminal)")
      ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();

  InspectArguments inspect;
  CLI::App* inspect_command = app.add_subcommand(
      "inspect", "Show what loading a file would do: decompiled code (or --disasm opcodes), findings at their line");
  inspect_command->add_option("path", inspect.path, "File to inspect")->required()->check(CLI::ExistingFile);
  inspect_command->add_flag("--disasm", inspect.disasm, "Opcode listing with offsets instead of decompiled code");
  add_policy_option(inspect_command, inspect.policies);
  inspect_command->add_flag("--no-sandbox", inspect.no_sandbox, "Inspect without the seccomp sandbox");
  inspect_command->add_flag("--strict", inspect.strict, "As for scan: trusted code is reported as suspicious");
  inspect_command->add_option("--max-lines", inspect.max_lines, "Most lines shown over all pickles")
      ->capture_default_str()->check(CLI::PositiveNumber);
  inspect_command->add_option("--color", inspect.color, "Colour output")
      ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();

  ConvertArguments convert;
  CLI::App* convert_command = app.add_subcommand(
      "convert", "Convert a PyTorch checkpoint (or a Hugging Face model folder) to safetensors without running it");
  convert_command->add_option("input", convert.input, "Checkpoint file, or model folder")->required()
      ->check(CLI::ExistingPath);
  convert_command->add_option("output", convert.output, "Output .safetensors file, or output folder")->required();
  convert_command->add_flag("--strip-code", convert.strip_code,
                            "Convert an input that is not safe anyway, keeping only its tensors");
  convert_command->add_flag("--verify", convert.verify,
                            "Read the output back and compare every tensor with the source, bit for bit");
  convert_command->add_option("--key", convert.key, "Convert this top-level key instead of the whole object");
  add_policy_option(convert_command, convert.policies);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? exit_clean : exit_usage_or_io;
  }
  if (scan_command->parsed()) return run_scan(scan);
  if (inspect_command->parsed()) return run_inspect(inspect);
  if (convert_command->parsed()) return run_convert(convert);
  return exit_usage_or_io;
}
