// The picklewall command. Exit codes (the contract CI scripts rely on): 0 every file safe; 1 a verdict reached
// --fail-on; 2 usage error, or a path that could not be read (the scan is incomplete). `inspect` exits 0 when it
// could show the file, whatever it found, and 2 otherwise. `convert` exits 0 when the output was written, 1 when
// the input was refused (its verdict is not safe and --strip-code was not given), 2 on any other error.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/progress_display.hpp"
#include "isolation/channel.hpp"
#include "isolation/worker_protocol.hpp"
#include "picklewall/batch_scan.hpp"
#include "picklewall/convert.hpp"
#include "picklewall/inspect.hpp"
#include "picklewall/output_file.hpp"
#include "picklewall/report.hpp"
#include "picklewall/isolation.hpp"
#include "picklewall/limits.hpp"
#include "picklewall/scan.hpp"

namespace {

constexpr int exit_clean = 0;
constexpr int exit_findings = 1;
constexpr int exit_usage_or_io = 2;
constexpr int exit_interrupted = 130;  // as a shell reports a command ended by Ctrl-C

// Ctrl-C (and SIGTERM): the supervisor stops its workers, removes any temporary output and exits 130. The
// workers run in their own process group, so the terminal's signal reaches only this process.
std::atomic<bool> interrupted{false};
extern "C" void on_interrupt(int) { interrupted.store(true); }
void catch_interrupts() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}
bool interrupt_requested() { return interrupted.load(); }

// Every limit of picklewall::Limits as a flag (--max-opcodes N, --max-memory-per-file 512MB, ...), from the one
// table of limits; values given override the defaults.
struct LimitArguments {
  std::vector<std::pair<const picklewall::LimitInfo*, std::string>> given;
  std::vector<std::string> values = std::vector<std::string>(picklewall::limit_table().size());
};

void add_limit_options(CLI::App* command, LimitArguments& arguments) {
  const auto table = picklewall::limit_table();
  for (std::size_t i = 0; i < table.size(); ++i) {
    const picklewall::LimitInfo& limit = table[i];
    std::string flag = "--" + std::string(limit.name);
    for (char& c : flag) if (c == '_') c = '-';
    picklewall::Limits defaults;
    std::string shown = limit.integer != nullptr ? std::to_string(defaults.*limit.integer)
                                                 : std::to_string(static_cast<long long>(defaults.*limit.seconds));
    const char* unit = limit.unit == picklewall::LimitUnit::bytes     ? " (bytes; 512MB, 2GiB also read)"
                       : limit.unit == picklewall::LimitUnit::seconds ? " (seconds)"
                                                                      : "";
    CLI::Option* option = command->add_option(flag, arguments.values[i],
                                              std::string(limit.description) + unit + " [default: " + shown + "]");
    option->group("Limits");
    if (limit.unit == picklewall::LimitUnit::bytes) {
      option->transform(CLI::AsSizeValue(false))->type_name("SIZE");
    } else if (limit.unit == picklewall::LimitUnit::seconds) {
      option->check(CLI::PositiveNumber)->type_name("SECONDS");
    } else {
      option->check(CLI::Validator(
          [](std::string& text) {
            std::uint64_t value = 0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
            return error == std::errc() && end == text.data() + text.size() ? std::string()
                                                                              : "a whole number is needed";
          },
          "N"))->type_name("N");
    }
  }
}

picklewall::Limits limits_from(const LimitArguments& arguments) {
  picklewall::Limits limits;
  const auto table = picklewall::limit_table();
  for (std::size_t i = 0; i < table.size(); ++i) {
    if (arguments.values[i].empty()) continue;
    if (table[i].integer != nullptr) limits.*table[i].integer = std::stoull(arguments.values[i]);
    else limits.*table[i].seconds = std::stod(arguments.values[i]);
  }
  return limits;
}

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
  LimitArguments limits;
  bool show_info = false;
  std::string color = "auto";
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
  LimitArguments limits;
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

bool color_wanted(const std::string& choice, bool to_terminal) {
  return choice == "always" || (choice == "auto" && to_terminal && ::isatty(STDOUT_FILENO) != 0);
}

int print_error(const picklewall::Error& error) {
  std::cerr << "picklewall: " << error.message << "\n";
  if (error.code == picklewall::ErrorCode::cancelled) return exit_interrupted;
  return exit_usage_or_io;
}

// inspect runs in a sandboxed worker like a scan (or here, with --no-sandbox): the file is parsed twice over
// (scanned, then decompiled with the whole object graph), all of it hostile input.
int run_inspect(const InspectArguments& arguments) {
  auto policy = load_policy(arguments.policies);
  if (!policy) return exit_usage_or_io;
  picklewall::InspectOptions options;
  options.scan.policy = policy;
  options.scan.strict = arguments.strict;
  options.scan.limits = limits_from(arguments.limits);
  options.scan.hash_files = false;  // inspect shows code, not identity
  options.view = arguments.disasm ? picklewall::InspectView::disassembly : picklewall::InspectView::decompiled;
  options.max_lines = arguments.max_lines;
  const bool color = color_wanted(arguments.color, true);
  std::string rendered;
  if (arguments.no_sandbox) {
    auto report = picklewall::inspect_file(arguments.path, options);
    if (!report) return print_error(report.error());
    rendered = picklewall::render_inspect_text(report.value(), color);
  } else {
    auto pool = picklewall::WorkerPool::create(options.scan);
    if (!pool) return print_error(pool.error());
    const picklewall::detail::UniqueFd input(::open(arguments.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!input) return print_error({picklewall::ErrorCode::io, "cannot open " + arguments.path + ": " + std::strerror(errno)});
    auto text = pool.value()->inspect(input.get(), arguments.path, arguments.disasm, arguments.max_lines, color,
                                      interrupt_requested);
    if (!text) return print_error(text.error());
    rendered = std::move(text.value());
  }
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
  LimitArguments limits;
  bool no_sandbox = false;
};

int run_convert(const ConvertArguments& arguments) {
  auto policy = load_policy(arguments.policies);
  if (!policy) return exit_usage_or_io;
  picklewall::ConvertOptions options;
  options.policy = policy;
  options.limits = limits_from(arguments.limits);
  options.strip_code = arguments.strip_code;
  options.verify = arguments.verify;
  options.key = arguments.key;
  options.should_stop = interrupt_requested;
  options.isolation = arguments.no_sandbox ? picklewall::Isolation::in_process : picklewall::Isolation::worker_processes;
  auto result = picklewall::convert_path(arguments.input, arguments.output, options);
  if (!result) {
    if (result.error().code == picklewall::ErrorCode::cancelled) return print_error(result.error());
    std::cerr << "picklewall: " << result.error().message << "\n";
    return result.error().code == picklewall::ErrorCode::refused ? exit_findings : exit_usage_or_io;
  }
  for (const auto& report : result.value().conversions) {
    std::cout << "converted " << report.input << " -> " << report.output << ": " << report.tensors.size()
              << " tensor(s), " << report.bytes_written << " bytes" << (report.verified ? ", verified" : "") << "\n";
    if (report.scan.verdict != picklewall::Verdict::safe)
      std::cout << "  input verdict " << picklewall::to_string(report.scan.verdict)
                << ": only tensor data was kept (--strip-code)\n";
    for (const auto& [dropped, kept] : report.dropped)
      std::cout << "  shared storage: " << dropped << " is an alias of " << kept << " (recorded in metadata)\n";
    for (const auto& skipped : report.skipped) std::cout << "  not a tensor, left out: " << skipped << "\n";
  }
  for (const auto& copied : result.value().copied) std::cout << "copied " << copied << "\n";
  for (const auto& left_out : result.value().left_out) std::cout << "left out " << left_out << "\n";
  return exit_clean;
}

int run_scan(const ScanArguments& arguments) {
  auto policy = load_policy(arguments.policies);
  if (!policy) return exit_usage_or_io;
  picklewall::ScanOptions options;
  options.policy = policy;
  options.limits = limits_from(arguments.limits);
  options.hash_files = !arguments.no_hash;
  options.strict = arguments.strict;
  auto scanner = picklewall::Scanner::create(options);
  if (!scanner) return print_error(scanner.error());

  // The report's temporary file (beside its target) exists before anything is scanned; it is renamed into
  // place only once the report is whole, and removed otherwise.
  std::optional<picklewall::OutputFile> output;
  if (!arguments.output.empty()) {
    auto created = picklewall::OutputFile::create(arguments.output);
    if (!created) return print_error(created.error());
    output.emplace(std::move(created.value()));
  }

  picklewall::cli::ProgressDisplay progress(arguments.progress == "always" ||
                                            (arguments.progress == "auto" && ::isatty(STDERR_FILENO) != 0));
  picklewall::BatchOptions batch_options;
  batch_options.jobs = arguments.jobs;
  batch_options.cache_path = arguments.cache;
  batch_options.on_progress = [&progress](const picklewall::BatchProgress& now) { progress.update(now); };
  batch_options.should_stop = interrupt_requested;
  // Sandboxed worker processes run this very executable; --no-sandbox scans in this process instead.
  batch_options.isolation = arguments.no_sandbox ? picklewall::Isolation::in_process
                                                 : picklewall::Isolation::worker_processes;
  auto batch = picklewall::scan_batch(scanner.value(), arguments.paths, batch_options);
  progress.finish();
  if (!batch) return print_error(batch.error());
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
    style.color = color_wanted(arguments.color, !output);
    rendered = picklewall::render_text(reports, style);
  }
  if (!output) {
    std::fwrite(rendered.data(), 1, rendered.size(), stdout);
    std::fflush(stdout);
  } else {
    if (picklewall::Status written = output->write(rendered); !written) return print_error(written.error());
    if (picklewall::Status committed = output->commit(); !committed) return print_error(committed.error());
  }

  const picklewall::Verdict threshold =
      arguments.fail_on == "malicious" ? picklewall::Verdict::malicious : picklewall::Verdict::suspicious;
  bool io_error = false, failed = false;
  for (const auto& report : reports) {
    if (report.verdict == picklewall::Verdict::error) io_error = true;
    else if (report.verdict >= threshold) failed = true;
  }
  return io_error ? exit_usage_or_io : failed ? exit_findings : exit_clean;
}

}  // namespace

int main(int argc, char** argv) {
  // A sandboxed worker of another picklewall process (see picklewall/isolation.hpp).
  if (argc == 2 && std::string_view(argv[1]) == picklewall::detail::worker_argument)
    return picklewall::detail::run_worker();
  catch_interrupts();

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
  scan_command->add_option("-j,--jobs", scan.jobs, "Files scanned at once, each in its own worker (0: one per core)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  CLI::Option* cache_option = scan_command->add_option(
      "--cache", scan.cache, "SQLite file of earlier verdicts, keyed by content hash and policy; created if missing");
  cache_option->excludes(no_hash_flag);  // the cache is keyed by content hash
  scan_command->add_flag("--no-sandbox", scan.no_sandbox,
                         "Scan in this process, without worker processes or their seccomp sandbox (a parser crash "
                         "is then this command's crash)");
  scan_command->add_option("--progress", scan.progress, "Progress line on stderr (auto: when stderr is a terminal)")
      ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  add_limit_options(scan_command, scan.limits);

  InspectArguments inspect;
  CLI::App* inspect_command = app.add_subcommand(
      "inspect", "Show what loading a file would do: decompiled code (or --disasm opcodes), findings at their line");
  inspect_command->add_option("path", inspect.path, "File to inspect")->required()->check(CLI::ExistingFile);
  inspect_command->add_flag("--disasm", inspect.disasm, "Opcode listing with offsets instead of decompiled code");
  add_policy_option(inspect_command, inspect.policies);
  inspect_command->add_flag("--no-sandbox", inspect.no_sandbox,
                            "Inspect in this process, without a sandboxed worker process");
  inspect_command->add_flag("--strict", inspect.strict, "As for scan: trusted code is reported as suspicious");
  inspect_command->add_option("--max-lines", inspect.max_lines, "Most lines shown over all pickles")
      ->capture_default_str()->check(CLI::PositiveNumber);
  inspect_command->add_option("--color", inspect.color, "Colour output")
      ->check(CLI::IsMember({"auto", "always", "never"}))->capture_default_str();
  add_limit_options(inspect_command, inspect.limits);

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
  convert_command->add_flag("--no-sandbox", convert.no_sandbox,
                            "Convert in this process, without a sandboxed worker process");
  add_limit_options(convert_command, convert.limits);

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
