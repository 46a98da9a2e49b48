// Policies say which globals a load may touch, and how (see policies/*.toml). Allowlist first: a global that no
// rule names is suspicious at least.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "picklewall/finding.hpp"
#include "picklewall/result.hpp"

namespace picklewall {

// How a load uses a global.
enum class SymbolUse {
  reference,  // imported and passed around (a class given to a constructor, a dtype name)
  call,       // called: REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ
  build,      // an object it made receives BUILD (__setstate__ or __dict__ update)
  mutate,     // an object it made receives APPEND / SETITEM / ADDITEMS (calls its methods unless a plain container)
  persistent_id,  // part of a persistent id handed to the loader's persistent_load
};
std::string_view to_string(SymbolUse use);

struct SymbolJudgement {
  Severity severity = Severity::suspicious;
  std::string rule;    // "global.allowed", "global.dangerous", "global.unknown", ...
  std::string reason;  // human explanation, from the policy file
  std::string policy;  // which policy file decided
};

// What a callable does with the arguments it is called with, from the policy's [[passes]] tables (positions
// count from 0). The analysis follows these: a global passed where it is called is judged as called, whatever
// name the call goes through (a trampoline launders nothing).
struct ArgumentEffects {
  std::vector<int> calls;          // arguments it calls (numpy's __generator_ctor calls its second)
  std::vector<int> calls_method;   // arguments it calls a method of (copyreg._reconstructor: base.__new__)
  int instance_of = -1;            // the argument whose instance it returns (a BUILD on it runs that class's code)
  std::vector<int> state;          // arguments applied to what it returns as BUILD state (attributes, slots)
  std::vector<int> hooks;          // arguments kept as hooks that run when the result is used (tensor hooks)
  std::vector<int> build_calls;    // items of a later BUILD state tuple it calls (functools.partial: the function)
  std::string reason;
  std::string policy;
};

// Attribute names that make an object run code when set through BUILD or reconstruction state (policy
// [state] table): the unpickler calls some of them itself, a framework calls the rest when the model is used.
struct StateRules {
  std::vector<std::string> unpickler_calls;  // append, extend, add: looked up on the object by APPEND/ADDITEMS
  std::vector<std::string> hooks;            // torch.nn.Module hook dictionaries: each entry runs on use
  std::vector<std::string> methods;          // methods a framework calls (forward, generate, predict, ...)
};

// One policy file's text and where it came from ("builtin:dangerous.toml", "trust:scikit-learn.toml", a path).
struct PolicySource {
  std::string name;
  std::string text;
};

class Policy {
 public:
  // The built-in policy (policies/*.toml compiled into the library).
  static Result<std::shared_ptr<Policy>> builtin();
  // The built-in policy extended by the named opt-in trust policies (policies/trust/NAME.toml, compiled in),
  // then by user files, in order; later files win for the same symbol. An unknown trust name is
  // ErrorCode::invalid_argument, its message listing the names there are.
  static Result<std::shared_ptr<Policy>> with_files(const std::vector<std::string>& paths,
                                                    const std::vector<std::string>& trust = {});
  // A policy from texts already read, in order (what with_files reads; a worker process is handed these, so it
  // judges by exactly the files its supervisor read, whatever happens to them on disk afterwards).
  static Result<std::shared_ptr<Policy>> from_sources(std::vector<PolicySource> sources);
  // The names --trust accepts: "scikit-learn", "torch-modules", ...
  static std::vector<std::string> trust_policy_names();

  // Judges `module.name` used as `use`. `name` may be dotted (an attribute walk under protocol >= 4).
  SymbolJudgement judge(std::string_view module, std::string_view name, SymbolUse use) const;
  // What `module.name` does with its arguments; null when no [[passes]] entry names it.
  const ArgumentEffects* argument_effects(std::string_view module, std::string_view name) const;
  const StateRules& state_rules() const;
  // A stable fingerprint of the policy content, for caches keyed by policy version.
  const std::string& fingerprint() const;
  const std::vector<PolicySource>& sources() const;
  ~Policy();

  struct Impl;
  explicit Policy(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// What find_class imports for `module`.`name` written in a pickle below protocol 3: CPython's fix_imports renames
// Python 2 names (`__builtin__.eval` is `builtins.eval`). Other names come back as they are.
std::pair<std::string, std::string> python3_name(std::string_view module, std::string_view name);

}  // namespace picklewall
