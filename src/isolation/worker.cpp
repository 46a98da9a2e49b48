// The worker process: told its policy and limits once, it enters the sandbox and then scans, hashes and
// inspects the files its supervisor hands it as descriptors, one at a time, until the supervisor hangs up.
#include <malloc.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <new>
#include <optional>

#include "convert/converter.hpp"
#include "io/big_array_allocator.hpp"
#include "io/sha256.hpp"
#include "isolation/channel.hpp"
#include "isolation/worker_protocol.hpp"
#include "picklewall/inspect.hpp"
#include "picklewall/load.hpp"
#include "picklewall/sandbox.hpp"
#include "sandbox/sanitizer_runtime.hpp"
#include "report/report_codec.hpp"

namespace picklewall::detail {

nlohmann::json limits_to_json(const Limits& limits) {
  nlohmann::json document = nlohmann::json::object();
  for (const LimitInfo& limit : limit_table()) {
    if (limit.integer != nullptr) document[std::string(limit.name)] = limits.*limit.integer;
    else document[std::string(limit.name)] = limits.*limit.seconds;
  }
  return document;
}

Limits limits_from_json(const nlohmann::json& document) {
  Limits limits;
  for (const LimitInfo& limit : limit_table()) {
    const auto it = document.find(std::string(limit.name));
    if (it == document.end()) continue;
    if (limit.integer != nullptr && it->is_number_unsigned()) limits.*limit.integer = it->get<std::uint64_t>();
    if (limit.seconds != nullptr && it->is_number()) limits.*limit.seconds = it->get<double>();
  }
  return limits;
}

namespace {

const char* code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::io: return "io";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::invalid_policy: return "invalid_policy";
    case ErrorCode::malformed: return "malformed";
    case ErrorCode::limit_exceeded: return "limit_exceeded";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::refused: return "refused";
    case ErrorCode::cancelled: return "cancelled";
  }
  return "io";
}

}  // namespace

nlohmann::json error_to_json(const Error& error) {
  return {{"error", {{"code", code_name(error.code)},
                     {"message", nlohmann::json::binary({error.message.begin(), error.message.end()})}}}};
}

Error error_from_json(const nlohmann::json& document) {
  Error error{ErrorCode::io, "the worker gave no reason"};
  try {
    const auto& body = document.at("error");
    const std::string code = body.at("code").get<std::string>();
    for (ErrorCode candidate : {ErrorCode::io, ErrorCode::not_found, ErrorCode::invalid_argument,
                                ErrorCode::invalid_policy, ErrorCode::malformed, ErrorCode::limit_exceeded,
                                ErrorCode::unsupported, ErrorCode::refused, ErrorCode::cancelled})
      if (code == code_name(candidate)) error.code = candidate;
    const auto& message = body.at("message");
    if (message.is_binary()) error.message.assign(message.get_binary().begin(), message.get_binary().end());
    else error.message = message.get<std::string>();
  } catch (const nlohmann::json::exception&) {
  }
  return error;
}

namespace {

std::string text_field(const nlohmann::json& request, const char* key) {
  const auto it = request.find(key);
  if (it == request.end()) return {};
  if (it->is_binary()) return std::string(it->get_binary().begin(), it->get_binary().end());
  return it->is_string() ? it->get<std::string>() : std::string();
}

// The converter's files, asked of the supervisor: it creates each one inside its staging area and hands the
// descriptor back. This process creates nothing itself (its sandbox would not let it).
class BrokerSink : public OutputSink {
 public:
  explicit BrokerSink(Channel& channel) : channel_(channel) {}
  Result<UniqueFd> create(const std::string& name) override {
    if (!channel_.send({{"create", nlohmann::json::binary({name.begin(), name.end()})}}))
      return Error{ErrorCode::io, "the supervisor is gone"};
    auto answer = channel_.receive();
    if (!answer) return answer.error();
    if (answer.value().body.contains("error")) return error_from_json(answer.value().body);
    if (!answer.value().descriptor) return Error{ErrorCode::io, "the supervisor sent no file for " + name};
    return std::move(answer.value().descriptor);
  }

 private:
  Channel& channel_;
};

class Worker {
 public:
  explicit Worker(Channel& channel) : channel_(channel) {}

  int serve() {
    if (!configure()) return 3;
    // File after file in one process: each pickle's big arrays reuse the pages the previous one's freed, as a
    // batch thread's do (fresh pages cost a page fault and the kernel's zeroing each).
    const BigArrayReuse reuse;
    // Likewise the heap: glibc gives the top of the main arena back after every file, and the next file faults
    // the same pages in again, zeroed (a batch thread's arena keeps them). Blocks up to 32 MiB come from the
    // heap and up to 64 MiB of it stay between files (setting one threshold fixes the other, so both are set).
    ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
    while (true) {
      auto request = channel_.receive();
      if (!request) return 0;  // the supervisor hung up: done
      nlohmann::json reply;
      try {
        reply = handle(request.value());
      } catch (const std::bad_alloc&) {
        reply = error_to_json({ErrorCode::limit_exceeded, "the worker ran out of memory on this file"});
      } catch (const std::exception& error) {
        reply = error_to_json({ErrorCode::io, std::string("the worker failed on this file: ") + error.what()});
      }
      const bool sent = static_cast<bool>(channel_.send(reply, reply_descriptor_.get()));
      reply_descriptor_.reset();
      if (!sent) return 0;
    }
  }

 private:
  bool configure() {
    auto request = channel_.receive();
    if (!request) return false;
    const nlohmann::json& body = request.value().body;
    if (text_field(body, "op") != "configure") return reply_error({ErrorCode::invalid_argument, "expected configure"});
    std::vector<PolicySource> sources;
    try {
      for (const auto& pair : body.at("policies"))
        sources.push_back({text_field({{"v", pair.at(0)}}, "v"), text_field({{"v", pair.at(1)}}, "v")});
    } catch (const nlohmann::json::exception&) {
      return reply_error({ErrorCode::invalid_argument, "bad policy list"});
    }
    auto policy = Policy::from_sources(std::move(sources));
    if (!policy) return reply_error(policy.error());
    options_.policy = policy.value();
    options_.limits = limits_from_json(body.value("limits", nlohmann::json::object()));
    options_.strict = body.value("strict", false);
    options_.hash_files = body.value("hash", true);
    auto scanner = Scanner::create(options_);
    if (!scanner) return reply_error(scanner.error());
    scanner_.emplace(std::move(scanner.value()));
    // A backstop under the engine's own budgets: the kernel refuses private memory past this (a scan that
    // escaped every budget ends in bad_alloc here, not in the OOM killer's choice of process). Not in sanitizer
    // builds, whose runtimes reserve terabytes of address space as they go (shadow memory, allocator regions).
    if (const std::uint64_t limit = body.value("memory_limit", std::uint64_t{0}); limit > 0 && !sanitizer_runtime) {
      struct rlimit bound {limit, limit};
      ::setrlimit(RLIMIT_DATA, &bound);
    }
    if (body.value("sandbox", true)) {
      report_sandbox_violations_to(channel_.fd());
      if (Status entered = enter_sandbox(); !entered) return reply_error(entered.error());
    }
    return static_cast<bool>(channel_.send({{"ok", true}}));
  }

  bool reply_error(const Error& error) {
    (void)channel_.send(error_to_json(error));
    return false;
  }

  nlohmann::json handle(Message& request) {
    const std::string op = text_field(request.body, "op");
    if (op == "convert") return convert(request.body);
    if (op == "tensors") return tensors(request.body, reply_descriptor_);
    if (!request.descriptor) return error_to_json({ErrorCode::invalid_argument, "no file came with the request"});
    const int fd = request.descriptor.get();
    const std::string name = text_field(request.body, "name");
    if (op == "hash") {
      const std::string sha256 = sha256_fd_hex(fd);
      if (sha256.empty()) return error_to_json({ErrorCode::io, name + ": cannot be read to hash it"});
      return {{"sha256", sha256}};
    }
    if (op == "scan") {
      std::optional<std::string> sha256;
      if (auto it = request.body.find("sha256"); it != request.body.end() && it->is_string())
        sha256 = it->get<std::string>();
      return {{"report", report_to_json(scanner_->scan_descriptor(fd, name, sha256))}};
    }
    if (op == "inspect") {
      InspectOptions options;
      options.scan = options_;
      options.scan.hash_files = false;
      options.view = text_field(request.body, "view") == "disassembly" ? InspectView::disassembly
                                                                        : InspectView::decompiled;
      options.max_lines = request.body.value("max_lines", std::size_t{2000});
      auto inspected = inspect_descriptor(fd, name, options);
      if (!inspected) return error_to_json(inspected.error());
      const std::string text = render_inspect_text(inspected.value(), request.body.value("color", false));
      return {{"text", nlohmann::json::binary({text.begin(), text.end()})}};
    }
    return error_to_json({ErrorCode::invalid_argument, "unknown request '" + op + "'"});
  }

  // A conversion reads its input by path (read-only; a folder's files too) and writes through the broker.
  nlohmann::json convert(const nlohmann::json& request) {
    ConvertOptions options;
    options.limits = options_.limits;
    options.policy = options_.policy;
    options.strip_code = request.value("strip_code", false);
    options.verify = request.value("verify", false);
    options.key = text_field(request, "key");
    options.isolation = Isolation::in_process;  // this process is the sandbox
    const std::string input = text_field(request, "input");
    BrokerSink sink(channel_);
    Result<ConvertResult> result = Error{ErrorCode::io, "nothing converted"};
    if (request.value("folder", false)) {
      result = convert_folder_into(input, sink, options);
    } else {
      auto converted = convert_file_into(input, text_field(request, "name"), sink, options);
      if (converted) result = ConvertResult{{std::move(converted.value())}, {}, {}};
      else result = converted.error();
    }
    if (!result) return error_to_json(result.error());
    return {{"result", convert_result_to_json(result.value())}};
  }

  // load(): the tensors read into a shared memory file, sent back with their table. The file is sized by the
  // table; the table is bounded by the input's size (max_tensor_expansion), so a few storages named by millions
  // of views cannot make this process, or its caller, hold terabytes.
  nlohmann::json tensors(const nlohmann::json& request, UniqueFd& descriptor) {
    const std::string path = text_field(request, "path");
    LoadOptions options;
    options.limits = options_.limits;
    options.policy = options_.policy;
    options.strip_code = request.value("strip_code", false);
    options.key = text_field(request, "key");
    auto reader = TensorReader::open(path, options);
    if (!reader) return error_to_json(reader.error());
    struct stat input {};
    if (::stat(path.c_str(), &input) != 0) return error_to_json({ErrorCode::io, path + ": cannot stat"});
    const std::uint64_t total = reader.value().packed_bytes();
    const std::uint64_t allowed = static_cast<std::uint64_t>(input.st_size) * options_.limits.max_tensor_expansion + (1ull << 30);
    if (total > allowed)
      return error_to_json({ErrorCode::limit_exceeded,
                            path + ": its tensors would take " + std::to_string(total) + " bytes, more than " +
                                std::to_string(options_.limits.max_tensor_expansion) +
                                " times the file's size (max_tensor_expansion); views of a few storages named "
                                "over and over are a memory bomb"});
    UniqueFd memfd(::memfd_create("picklewall-tensors", MFD_CLOEXEC));
    if (!memfd || ::ftruncate(memfd.get(), static_cast<off_t>(total)) != 0)
      return error_to_json({ErrorCode::io, "cannot make room for the tensors"});
    void* mapped = total == 0 ? nullptr : ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
    if (total != 0 && mapped == MAP_FAILED) return error_to_json({ErrorCode::io, "cannot map room for the tensors"});
    auto* into = static_cast<std::uint8_t*>(mapped);
    nlohmann::json table = nlohmann::json::array();
    std::uint64_t at = 0;
    Status read_all = Ok{};
    const auto& specs = reader.value().tensors();
    for (std::size_t i = 0; i < specs.size() && read_all; ++i) {
      at = (at + TensorReader::alignment - 1) / TensorReader::alignment * TensorReader::alignment;
      read_all = reader.value().read(i, {into + at, specs[i].bytes});
      table.push_back({nlohmann::json::binary({specs[i].name.begin(), specs[i].name.end()}), specs[i].dtype,
                       specs[i].shape, specs[i].bytes, at});
      at += specs[i].bytes;
    }
    if (mapped != nullptr) ::munmap(mapped, total);
    if (!read_all) return error_to_json(read_all.error());
    nlohmann::json skipped = nlohmann::json::array();
    for (const std::string& line : reader.value().skipped())
      skipped.push_back(nlohmann::json::binary({line.begin(), line.end()}));
    descriptor = std::move(memfd);
    return {{"scan", report_to_json(reader.value().scan())}, {"tensors", std::move(table)},
            {"skipped", std::move(skipped)}};
  }

  Channel& channel_;
  UniqueFd reply_descriptor_;  // sent with the next reply, then closed
  ScanOptions options_;
  std::optional<Scanner> scanner_;
};

}  // namespace

int run_worker() {
  // The supervisor's death is this worker's end through its channel: every descriptor of the socket's other end
  // closes with the supervisor's process, the next receive sees end-of-file, and a scan in progress ends within
  // its own budget. (Not PR_SET_PDEATHSIG: that fires when the *thread* that started the worker exits, and a
  // pool keeps workers that one of a caller's threads started for all of them.)
  // Nothing of the caller's process comes along but the channel (a Python interpreter may leak descriptors).
  ::syscall(SYS_close_range, worker_channel_descriptor + 1, ~0U, 0);
  ::signal(SIGPIPE, SIG_IGN);
  Channel channel{UniqueFd(worker_channel_descriptor)};
  return Worker(channel).serve();
}

}  // namespace picklewall::detail
