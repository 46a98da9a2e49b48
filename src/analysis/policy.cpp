#include "picklewall/policy.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <toml++/toml.h>

#include "io/sha256.hpp"
#include "pickle/python2_names.hpp"

namespace picklewall {
namespace detail {
std::span<const std::pair<std::string_view, std::string_view>> embedded_policy_files();
std::span<const std::pair<std::string_view, std::string_view>> embedded_trust_policy_files();
}

namespace {

constexpr std::uint8_t bit(SymbolUse use) { return static_cast<std::uint8_t>(1u << static_cast<unsigned>(use)); }

struct Entry {
  std::string reason;
  std::string policy;
  std::uint8_t effects = 0;  // allow / trust: permitted uses
  // deny: dotted paths under a denied module that the entry does not cover (torch._C._nn: tensor math that
  // transformers' activation layers name, under torch._C, whose other functions compile and load code).
  std::vector<std::string> exempt;
  // trust by module: only CapitalisedNames (classes) are covered, so a trusted package's module-level
  // functions (hook registration, file writers) stay outside the trust.
  bool only_classes = false;
};

std::vector<std::string_view> split_dots(std::string_view text) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    auto dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string_view>& parts, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) {
    if (i > begin) out.push_back('.');
    out.append(parts[i]);
  }
  return out;
}

bool is_dunder(std::string_view part) {
  return part.size() > 4 && part.starts_with("__") && part.ends_with("__");
}

}  // namespace

std::string_view to_string(SymbolUse use) {
  switch (use) {
    case SymbolUse::reference: return "reference";
    case SymbolUse::call: return "call";
    case SymbolUse::build: return "build";
    case SymbolUse::mutate: return "mutate";
    case SymbolUse::persistent_id: return "persistent_id";
  }
  return "reference";
}

struct Policy::Impl {
  std::unordered_map<std::string, Entry> allow;
  std::unordered_map<std::string, Entry> deny_symbols;
  std::unordered_map<std::string, Entry> deny_modules;
  std::unordered_map<std::string, Entry> trust_symbols;
  std::unordered_map<std::string, Entry> trust_modules;
  std::unordered_set<std::string> stdlib;
  // [[sink]]: functions that reach exec, a process, a file write, ... (policies/sinks.toml, generated): judged
  // by what they do when called, however they are named. The entry's reason carries the proving path.
  std::unordered_map<std::string, Entry> sinks;
  std::unordered_map<std::string, ArgumentEffects> passes;
  StateRules state;
  // The most dotted parts any deny or trust key has: a run of a name's parts longer than that matches nothing,
  // so matching looks only at runs this long and costs O(parts) however long the name (a walk of thousands of
  // parts is built to stall a scanner that tries every run).
  std::size_t longest_deny_key = 1;
  std::size_t longest_trust_key = 1;
  // Computed on first use: only the verdict cache and reports ask for it, and hashing the 1.8 MB sink catalogue
  // on every policy load was half the start-up cost of a one-file scan.
  mutable std::once_flag fingerprint_once;
  mutable std::string fingerprint;
  std::string all_text;  // every loaded file, for the fingerprint
  std::vector<PolicySource> sources;

  Status load(std::string_view text, const std::string& source);
  Status load_catalogue(std::string_view text, const std::string& source);
  const Entry* find_deny(const std::vector<std::string_view>& parts, std::size_t module_parts) const;
  const Entry* find_trust(const std::vector<std::string_view>& parts, bool by_module) const;
  void measure_keys();
};

void Policy::Impl::measure_keys() {
  const auto parts_of = [](const std::string& key) {
    return static_cast<std::size_t>(std::count(key.begin(), key.end(), '.')) + 1;
  };
  for (const auto* table : {&deny_symbols, &deny_modules})
    for (const auto& [key, entry] : *table) longest_deny_key = std::max(longest_deny_key, parts_of(key));
  for (const auto* table : {&trust_symbols, &trust_modules})
    for (const auto& [key, entry] : *table) longest_trust_key = std::max(longest_trust_key, parts_of(key));
}

namespace {

Result<std::uint8_t> parse_effects(const toml::table& table, const std::string& where) {
  const toml::array* effects = table["effects"].as_array();
  if (effects == nullptr) return Error{ErrorCode::invalid_policy, where + ": `effects` must be an array of strings"};
  std::uint8_t mask = 0;
  for (const auto& item : *effects) {
    auto name = item.value<std::string_view>();
    if (!name) return Error{ErrorCode::invalid_policy, where + ": `effects` must hold strings"};
    bool known = false;
    for (SymbolUse use : {SymbolUse::reference, SymbolUse::call, SymbolUse::build, SymbolUse::mutate,
                          SymbolUse::persistent_id}) {
      if (*name == to_string(use)) {
        mask |= bit(use);
        known = true;
      }
    }
    if (!known) return Error{ErrorCode::invalid_policy, where + ": unknown effect '" + std::string(*name) + "'"};
  }
  return mask;
}

Result<std::vector<int>> read_positions(const toml::table& table, const char* key, const std::string& where) {
  std::vector<int> positions;
  const toml::node_view<const toml::node> node = table[key];
  if (!node) return positions;
  const toml::array* items = node.as_array();
  if (items == nullptr) return Error{ErrorCode::invalid_policy, where + ": `" + key + "` must be an array of positions"};
  for (const auto& item : *items) {
    auto position = item.value<std::int64_t>();
    if (!position || *position < 0 || *position > 255)
      return Error{ErrorCode::invalid_policy, where + ": `" + key + "` must hold argument positions 0-255"};
    positions.push_back(static_cast<int>(*position));
  }
  return positions;
}

Status read_strings(const toml::table& table, const char* key, const std::string& where,
                    std::vector<std::string>& into) {
  const toml::node_view<const toml::node> node = table[key];
  if (!node) return Ok{};
  const toml::array* items = node.as_array();
  if (items == nullptr) return Error{ErrorCode::invalid_policy, where + ": `" + key + "` must be an array of strings"};
  for (const auto& item : *items) {
    auto text = item.value<std::string>();
    if (!text || text->empty()) return Error{ErrorCode::invalid_policy, where + ": `" + key + "` must hold non-empty strings"};
    into.push_back(*text);
  }
  return Ok{};
}

// The uses under which a [[sink]] kind runs the sink: a function's own body runs when it is called, and when it
// made an object that is built or mutated it was called already. `class-init` (the class's __init__ reaches a
// sink) would need REDUCE told apart from NEWOBJ, which does not run __init__; it is not judged yet.
Result<std::uint8_t> sink_uses(std::string_view kind, const std::string& where) {
  const std::uint8_t runs = bit(SymbolUse::call) | bit(SymbolUse::build) | bit(SymbolUse::mutate);
  for (std::string_view known : {"code", "process", "import", "file", "network", "unpickle", "process-state"})
    if (kind == known) return runs;
  if (kind == "class-mutate") return bit(SymbolUse::mutate);
  if (kind == "class-setstate") return bit(SymbolUse::build);
  if (kind == "class-init") return std::uint8_t{0};
  return Error{ErrorCode::invalid_policy, where + ": unknown sink kind '" + std::string(kind) + "'"};
}

// [[sink]] symbols: "module.name", or ["module.name", "the call path that proves it reaches the sink"].
Status read_sinks(const toml::table& table, const std::string& where, const Entry& base,
                  std::unordered_map<std::string, Entry>& into) {
  const toml::array* names = table["symbols"].as_array();
  if (names == nullptr) return Error{ErrorCode::invalid_policy, where + ": [[sink]] needs `symbols`"};
  for (const auto& item : *names) {
    Entry entry = base;
    std::optional<std::string> symbol;
    if (const toml::array* pair = item.as_array()) {
      if (pair->size() == 2) {
        symbol = (*pair)[0].value<std::string>();
        if (auto path = (*pair)[1].value<std::string>()) entry.reason += " (" + *path + ")";
      }
    } else {
      symbol = item.value<std::string>();
    }
    if (!symbol || symbol->empty())
      return Error{ErrorCode::invalid_policy, where + ": `symbols` must hold names or [name, path] pairs"};
    into[*symbol] = std::move(entry);
  }
  return Ok{};
}

Status read_names(const toml::table& table, const char* key, const std::string& where,
                  std::unordered_map<std::string, Entry>& into, const Entry& entry) {
  const toml::node_view<const toml::node> node = table[key];
  if (!node) return Ok{};
  const toml::array* names = node.as_array();
  if (names == nullptr) return Error{ErrorCode::invalid_policy, where + ": `" + key + "` must be an array of strings"};
  for (const auto& item : *names) {
    auto name = item.value<std::string>();
    if (!name || name->empty())
      return Error{ErrorCode::invalid_policy, where + ": `" + key + "` must hold non-empty strings"};
    into[*name] = entry;
  }
  return Ok{};
}

}  // namespace

namespace {

// The text between the first pair of double quotes from `at`, which must hold no backslash; npos when absent.
std::string_view quoted(std::string_view line, std::size_t& at) {
  const std::size_t open = line.find('"', at);
  if (open == std::string_view::npos) return {};
  const std::size_t close = line.find('"', open + 1);
  if (close == std::string_view::npos) return {};
  at = close + 1;
  std::string_view text = line.substr(open + 1, close - open - 1);
  return text.find('\\') == std::string_view::npos ? text : std::string_view();
}

}  // namespace

// The generated sink catalogue (policies/sinks.toml: thousands of [name, path] pairs) is read line by line, not
// by the TOML parser: every scan and every worker process loads the built-in policy, and toml++ takes about
// 160 ms over this file. It is still TOML (tests/e2e/test_sink_catalogue.py reads it with tomllib); this reader
// takes only the layout scripts/make_sink_catalogue.py writes and refuses any other line.
Status Policy::Impl::load_catalogue(std::string_view text, const std::string& source) {
  all_text.append(source).append("\n").append(text).append("\n");
  Entry table;
  table.policy = "sinks";
  bool in_symbols = false, in_sink = false;
  std::size_t line_number = 0;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    const std::string where = source + ": line " + std::to_string(line_number);
    if (line.empty() || line.front() == '#') continue;
    if (in_symbols) {
      if (line == "]") {
        in_symbols = false;
        continue;
      }
      std::size_t at = 0;
      const std::string_view symbol = quoted(line, at);
      const std::string_view path = quoted(line, at);
      if (!line.starts_with("  [\"") || symbol.empty() || path.empty())
        return Error{ErrorCode::invalid_policy, where + ": expected [\"module.name\", \"path\"]"};
      Entry entry = table;
      entry.reason.append(" (").append(path).append(")");
      sinks[std::string(symbol)] = std::move(entry);
      continue;
    }
    std::size_t at = 0;
    if (line == "[policy]" || line.starts_with("name = ") || line.starts_with("version = ")) continue;
    if (line == "[[sink]]") {
      in_sink = true;
      table = Entry{};
      table.policy = "sinks";
    } else if (in_sink && line.starts_with("kind = ")) {
      auto uses = sink_uses(quoted(line, at), where);
      if (!uses) return uses.error();
      table.effects = uses.value();
    } else if (in_sink && line.starts_with("reason = ")) {
      table.reason = std::string(quoted(line, at));
    } else if (in_sink && line == "symbols = [") {
      if (table.reason.empty()) return Error{ErrorCode::invalid_policy, where + ": a [[sink]] needs its reason first"};
      in_symbols = true;
    } else {
      return Error{ErrorCode::invalid_policy, where + ": not a line of the sink catalogue's layout"};
    }
  }
  if (in_symbols) return Error{ErrorCode::invalid_policy, source + ": `symbols` is not closed"};
  return Ok{};
}

Status Policy::Impl::load(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << source << ": " << error.description() << " (line " << error.source().begin.line << ")";
    return Error{ErrorCode::invalid_policy, message.str()};
  }
  all_text.append(source).append("\n").append(text).append("\n");
  std::string policy_name = source;
  if (auto name = root["policy"]["name"].value<std::string>()) policy_name = *name;

  for (const auto& [key, node] : root) {
    const std::string section(key.str());
    if (section == "policy") continue;
    if (section == "stdlib") {
      const toml::array* modules = node.as_table() ? (*node.as_table())["modules"].as_array() : nullptr;
      if (modules == nullptr) return Error{ErrorCode::invalid_policy, source + ": [stdlib] needs `modules`"};
      for (const auto& item : *modules)
        if (auto name = item.value<std::string>()) stdlib.insert(*name);
      continue;
    }
    if (section == "state") {
      const toml::table* table = node.as_table();
      if (table == nullptr) return Error{ErrorCode::invalid_policy, source + ": [state] must be a table"};
      const std::string where = source + ": [state]";
      for (auto [key_name, list] : {std::pair{"unpickler_calls", &state.unpickler_calls},
                                    std::pair{"hooks", &state.hooks}, std::pair{"methods", &state.methods}})
        if (Status status = read_strings(*table, key_name, where, *list); !status) return status;
      continue;
    }
    if (section != "allow" && section != "deny" && section != "trust" && section != "sink" && section != "passes")
      return Error{ErrorCode::invalid_policy,
                   source + ": unknown section '" + section +
                       "' (expected [[allow]], [[deny]], [[trust]], [[sink]], [[passes]], [state], [stdlib], [policy])"};
    const toml::array* rules = node.as_array();
    if (rules == nullptr)
      return Error{ErrorCode::invalid_policy, source + ": '" + section + "' must be an array of tables ([[" + section + "]])"};
    std::size_t index = 0;
    for (const auto& rule_node : *rules) {
      const std::string where = source + ": [[" + section + "]] #" + std::to_string(++index);
      const toml::table* rule = rule_node.as_table();
      if (rule == nullptr) return Error{ErrorCode::invalid_policy, where + " is not a table"};
      Entry entry;
      entry.policy = policy_name;
      entry.reason = (*rule)["reason"].value_or(std::string());
      if (entry.reason.empty()) return Error{ErrorCode::invalid_policy, where + " needs a `reason`"};
      Status status = Ok{};
      if (section == "sink") {
        auto uses = sink_uses((*rule)["kind"].value_or(std::string("code")), where);
        if (!uses) return uses.error();
        entry.effects = uses.value();
        if (!(status = read_sinks(*rule, where, entry, sinks))) return status;
        continue;
      }
      if (section == "passes") {
        ArgumentEffects effects;
        effects.reason = entry.reason;
        effects.policy = policy_name;
        for (auto [key_name, list] : {std::pair{"calls", &effects.calls}, std::pair{"calls_method", &effects.calls_method},
                                      std::pair{"state", &effects.state}, std::pair{"hooks", &effects.hooks},
                                      std::pair{"build_calls", &effects.build_calls}}) {
          auto positions = read_positions(*rule, key_name, where);
          if (!positions) return positions.error();
          *list = std::move(positions.value());
        }
        if (auto instance = (*rule)["instance_of"].value<std::int64_t>()) {
          if (*instance < 0 || *instance > 255)
            return Error{ErrorCode::invalid_policy, where + ": `instance_of` must be an argument position 0-255"};
          effects.instance_of = static_cast<int>(*instance);
        }
        std::vector<std::string> names;
        if (!(status = read_strings(*rule, "symbols", where, names))) return status;
        if (names.empty()) return Error{ErrorCode::invalid_policy, where + ": [[passes]] needs `symbols`"};
        for (const std::string& name : names) passes[name] = effects;
        continue;
      }
      if (section == "deny") {
        if (const toml::array* exempt = (*rule)["exempt"].as_array()) {
          for (const auto& item : *exempt) {
            auto name = item.value<std::string>();
            if (!name || name->empty())
              return Error{ErrorCode::invalid_policy, where + ": `exempt` must hold non-empty strings"};
            entry.exempt.push_back(*name);
          }
        }
        if (!(status = read_names(*rule, "symbols", where, deny_symbols, entry))) return status;
        if (!(status = read_names(*rule, "modules", where, deny_modules, entry))) return status;
        continue;
      }
      auto effects = parse_effects(*rule, where);
      if (!effects) return effects.error();
      entry.effects = effects.value();
      entry.only_classes = (*rule)["only_classes"].value_or(false);
      if (section == "allow") {
        if ((*rule)["modules"]) return Error{ErrorCode::invalid_policy, where + ": [[allow]] takes exact `symbols` only"};
        if (!(status = read_names(*rule, "symbols", where, allow, entry))) return status;
      } else {
        if (!(status = read_names(*rule, "symbols", where, trust_symbols, entry))) return status;
        if (!(status = read_names(*rule, "modules", where, trust_modules, entry))) return status;
      }
    }
  }
  return Ok{};
}

namespace {

// True when the parts from `begin` on start with the dotted path `prefix` (whole parts only).
bool parts_within(const std::vector<std::string_view>& parts, std::size_t begin, std::string_view prefix) {
  std::size_t at = begin;
  for (std::string_view piece : split_dots(prefix)) {
    if (at >= parts.size() || parts[at] != piece) return false;
    ++at;
  }
  return true;
}

}  // namespace

// A dotted path matches a deny entry when any run of its parts does, starting at the module or at any
// attribute of the walk: `pathlib.os.system` reaches `os.system` through pathlib's own import of os.
const Entry* Policy::Impl::find_deny(const std::vector<std::string_view>& parts, std::size_t module_parts) const {
  // Tails count for attribute walks, and for attributes of standard-library modules (`pickle.sys` is the sys
  // module); a third-party `mymodel.copy` is more likely a function of that name than the copy module.
  const bool walks = parts.size() > module_parts + 1 || stdlib.contains(std::string(parts.front()));
  // Deepest start first, so the finding names what the walk reaches (`pickle.sys` is sys, not pickle).
  for (std::size_t begin = parts.size(); begin-- > 0;) {
    if (begin != 0 && (!walks || begin < module_parts)) continue;
    const std::size_t last_end = std::min(parts.size(), begin + longest_deny_key);
    for (std::size_t end = begin + 1; end <= last_end; ++end) {
      std::string path = join(parts, begin, end);
      if (auto it = deny_modules.find(path); it != deny_modules.end()) {
        const auto& exempt = it->second.exempt;
        if (std::none_of(exempt.begin(), exempt.end(),
                         [&](const std::string& e) { return parts_within(parts, begin, e); }))
          return &it->second;
        continue;
      }
      if (end == parts.size() || begin != 0)
        if (auto it = deny_symbols.find(path); it != deny_symbols.end()) return &it->second;
    }
  }
  return nullptr;
}

const Entry* Policy::Impl::find_trust(const std::vector<std::string_view>& parts, bool by_module) const {
  if (parts.size() <= longest_trust_key) {
    std::string full = join(parts, 0, parts.size());
    if (auto it = trust_symbols.find(full); it != trust_symbols.end()) return &it->second;
  }
  if (!by_module) return nullptr;
  for (std::size_t end = std::min(parts.size(), longest_trust_key); end >= 1; --end)
    if (auto it = trust_modules.find(join(parts, 0, end)); it != trust_modules.end()) return &it->second;
  return nullptr;
}

Policy::Policy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Policy::~Policy() = default;

Result<std::shared_ptr<Policy>> Policy::builtin() { return with_files({}); }

std::vector<std::string> Policy::trust_policy_names() {
  std::vector<std::string> names;
  for (const auto& [file, text] : detail::embedded_trust_policy_files())
    names.emplace_back(file.substr(0, file.size() - std::string_view(".toml").size()));
  return names;
}

Result<std::shared_ptr<Policy>> Policy::with_files(const std::vector<std::string>& paths,
                                                   const std::vector<std::string>& trust) {
  std::vector<PolicySource> sources;
  for (const auto& [name, text] : detail::embedded_policy_files())
    sources.push_back({"builtin:" + std::string(name), std::string(text)});
  for (const std::string& wanted : trust) {
    const auto trust_files = detail::embedded_trust_policy_files();
    auto it = std::find_if(trust_files.begin(), trust_files.end(),
                           [&](const auto& entry) { return entry.first == wanted + ".toml"; });
    if (it == trust_files.end()) {
      std::string known;
      for (const std::string& name : trust_policy_names()) known += (known.empty() ? "" : ", ") + name;
      return Error{ErrorCode::invalid_argument, "no trust policy named '" + wanted + "' (there are: " + known + ")"};
    }
    sources.push_back({"trust:" + std::string(it->first), std::string(it->second)});
  }
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{ErrorCode::not_found, "cannot read policy file " + path};
    std::ostringstream text;
    text << in.rdbuf();
    sources.push_back({path, text.str()});
  }
  return from_sources(std::move(sources));
}

Result<std::shared_ptr<Policy>> Policy::from_sources(std::vector<PolicySource> sources) {
  auto impl = std::make_unique<Impl>();
  for (const PolicySource& source : sources) {
    const bool catalogue = source.name == "builtin:sinks.toml";
    if (Status status = catalogue ? impl->load_catalogue(source.text, source.name) : impl->load(source.text, source.name);
        !status)
      return status.error();
  }
  impl->sources = std::move(sources);
  impl->measure_keys();
  return std::make_shared<Policy>(std::move(impl));
}

const std::string& Policy::fingerprint() const {
  std::call_once(impl_->fingerprint_once, [this] {
    const std::string& all = impl_->all_text;
    impl_->fingerprint = detail::sha256_hex({reinterpret_cast<const std::uint8_t*>(all.data()), all.size()});
  });
  return impl_->fingerprint;
}

std::pair<std::string, std::string> python3_name(std::string_view module, std::string_view name) {
  std::string new_module(module), new_name(name);
  detail::remap_python2_name(new_module, new_name);
  return {std::move(new_module), std::move(new_name)};
}
const std::vector<PolicySource>& Policy::sources() const { return impl_->sources; }

const ArgumentEffects* Policy::argument_effects(std::string_view module, std::string_view name) const {
  std::string full;
  full.reserve(module.size() + name.size() + 1);
  full.append(module).append(1, '.').append(name);
  auto it = impl_->passes.find(full);
  return it == impl_->passes.end() ? nullptr : &it->second;
}

const StateRules& Policy::state_rules() const { return impl_->state; }

SymbolJudgement Policy::judge(std::string_view module, std::string_view name, SymbolUse use) const {
  const std::string full = std::string(module) + "." + std::string(name);
  const auto module_parts = split_dots(module);
  auto parts = module_parts;
  for (auto part : split_dots(name)) parts.push_back(part);

  if (auto it = impl_->deny_symbols.find(full); it != impl_->deny_symbols.end())
    return {Severity::malicious, "global.dangerous", it->second.reason, it->second.policy};
  if (auto it = impl_->allow.find(full); it != impl_->allow.end()) {
    if (it->second.effects & bit(use)) return {Severity::info, "global.allowed", it->second.reason, it->second.policy};
    return {Severity::suspicious, "global.unexpected-use",
            "is data-reconstruction code, but a real writer never uses it this way (" + std::string(to_string(use)) + ")",
            it->second.policy};
  }
  if (const Entry* entry = impl_->find_deny(parts, module_parts.size()))
    return {Severity::malicious, "global.dangerous", entry->reason, entry->policy};
  // A catalogued sink is judged by what it does, so only uses that run it count: a function passed around as a
  // value is what it was before (suspicious at least), one called, built or mutated is malicious. A trust policy
  // does not override this: trusting a library is trusting its data types, not its process launchers.
  if (auto it = impl_->sinks.find(full); it != impl_->sinks.end() && (it->second.effects & bit(use)))
    return {Severity::malicious, "global.sink", it->second.reason, it->second.policy};
  if (name.find('.') != std::string_view::npos) {
    for (std::size_t i = module_parts.size(); i < parts.size(); ++i)
      if (is_dunder(parts[i]))
        return {Severity::malicious, "global.dunder-walk",
                "walks into interpreter internals (" + std::string(parts[i]) +
                    "), the classic way to reach builtins or os from any object",
                "builtin"};
  }
  // A module trusted by prefix covers what it defines (classes, functions), not what an attribute walk reaches
  // from them: `Module.register_forward_hook` called on a dummy self installs a hook whatever module it is in.
  // Walks are trusted only when a policy lists the dotted symbol itself.
  if (const Entry* entry = impl_->find_trust(parts, name.find('.') == std::string_view::npos)) {
    const bool class_name = !name.empty() && name.front() >= 'A' && name.front() <= 'Z';
    if ((entry->effects & bit(use)) && (!entry->only_classes || class_name))
      return {Severity::info, "global.trusted", entry->reason, entry->policy};
  }
  if (!module_parts.empty() && impl_->stdlib.contains(std::string(module_parts[0]))) {
    if (use == SymbolUse::reference || use == SymbolUse::persistent_id)
      return {Severity::suspicious, "global.stdlib-reference",
              "is standard-library code that data files do not name", "builtin"};
    return {Severity::malicious, "global.stdlib-call",
            "is a standard-library function or class that is not a data constructor, invoked at load time; "
            "published gadgets live here",
            "builtin"};
  }
  return {Severity::suspicious, "global.unknown",
          "is code outside the data allowlist: loading this file imports and runs it, so it needs trust", "builtin"};
}

}  // namespace picklewall
