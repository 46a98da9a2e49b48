#include "picklewall/policy.hpp"

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

using namespace picklewall;

namespace {
std::shared_ptr<Policy> builtin_policy() {
  auto policy = Policy::builtin();
  EXPECT_TRUE(policy.ok());
  return policy.value();
}
}  // namespace

TEST(Policy, DataReconstructionIsAllowedForItsUses) {
  auto policy = builtin_policy();
  EXPECT_EQ(policy->judge("torch._utils", "_rebuild_tensor_v2", SymbolUse::call).severity, Severity::info);
  EXPECT_EQ(policy->judge("torch", "FloatStorage", SymbolUse::persistent_id).severity, Severity::info);
  EXPECT_EQ(policy->judge("collections", "OrderedDict", SymbolUse::mutate).severity, Severity::info);
}

TEST(Policy, AllowedSymbolUsedOtherwiseIsSuspicious) {
  auto policy = builtin_policy();
  auto judgement = policy->judge("torch", "FloatStorage", SymbolUse::call);
  EXPECT_EQ(judgement.severity, Severity::suspicious);
  EXPECT_EQ(judgement.rule, "global.unexpected-use");
}

TEST(Policy, DangerousFamiliesAreMalicious) {
  auto policy = builtin_policy();
  EXPECT_EQ(policy->judge("builtins", "exec", SymbolUse::call).severity, Severity::malicious);
  EXPECT_EQ(policy->judge("os", "system", SymbolUse::reference).severity, Severity::malicious);
  EXPECT_EQ(policy->judge("asyncio.unix_events", "anything", SymbolUse::call).severity, Severity::malicious);
  EXPECT_EQ(policy->judge("pathlib", "os.system", SymbolUse::call).severity, Severity::malicious);
  EXPECT_EQ(policy->judge("torch.utils.collect_env", "run", SymbolUse::call).severity, Severity::malicious);
}

TEST(Policy, StdlibCallsOutsideTheAllowlistAreMalicious) {
  auto policy = builtin_policy();
  auto judgement = policy->judge("textwrap", "dedent", SymbolUse::call);
  EXPECT_EQ(judgement.severity, Severity::malicious);
  EXPECT_EQ(judgement.rule, "global.stdlib-call");
  EXPECT_EQ(policy->judge("textwrap", "dedent", SymbolUse::reference).severity, Severity::suspicious);
}

TEST(Policy, UnknownThirdPartyCodeIsSuspicious) {
  auto policy = builtin_policy();
  auto judgement = policy->judge("sklearn.linear_model", "LogisticRegression", SymbolUse::call);
  EXPECT_EQ(judgement.severity, Severity::suspicious);
  EXPECT_EQ(judgement.rule, "global.unknown");
  // A third-party attribute that shares a name with a module is not that module.
  EXPECT_EQ(policy->judge("mymodel", "copy", SymbolUse::call).severity, Severity::suspicious);
}

TEST(Policy, DunderWalksAreMalicious) {
  auto policy = builtin_policy();
  EXPECT_EQ(policy->judge("torch._utils", "_rebuild_tensor_v2.__globals__", SymbolUse::reference).rule,
            "global.dunder-walk");
}

TEST(Policy, UserTrustPolicyExtendsTheBuiltin) {
  const std::string path = ::testing::TempDir() + "trust.toml";
  std::ofstream(path) << "[policy]\nname = \"sklearn-trust\"\n[[trust]]\nreason = \"scikit-learn estimators\"\n"
                         "effects = [\"reference\", \"call\", \"build\"]\nmodules = [\"sklearn\"]\n";
  auto policy = Policy::with_files({path});
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  auto judgement = policy.value()->judge("sklearn.linear_model", "LogisticRegression", SymbolUse::build);
  EXPECT_EQ(judgement.severity, Severity::info);
  EXPECT_EQ(judgement.rule, "global.trusted");
  EXPECT_NE(policy.value()->fingerprint(), builtin_policy()->fingerprint());
  // Trust never overrides a dangerous family.
  EXPECT_EQ(policy.value()->judge("os", "system", SymbolUse::call).severity, Severity::malicious);
}

TEST(Policy, BadPolicyFilesAreClearErrors) {
  const std::string path = ::testing::TempDir() + "bad.toml";
  std::ofstream(path) << "[[allow]]\nreason = \"x\"\neffects = [\"teleport\"]\nsymbols = [\"a.b\"]\n";
  auto policy = Policy::with_files({path});
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code, ErrorCode::invalid_policy);
  EXPECT_NE(policy.error().message.find("teleport"), std::string::npos);
  std::ofstream(path) << "not = [toml";
  EXPECT_FALSE(Policy::with_files({path}).ok());
  EXPECT_FALSE(Policy::with_files({"/nonexistent/policy.toml"}).ok());
}

TEST(Policy, DenyExemptionsFallThroughToUnknownNotData) {
  auto policy = builtin_policy();
  // torch._C stays denied, except its tensor-math namespaces, which are code needing trust (not data).
  EXPECT_EQ(policy->judge("torch._C", "_jit_script_compile", SymbolUse::call).severity, Severity::malicious);
  auto gelu = policy->judge("torch._C._nn", "gelu", SymbolUse::reference);
  EXPECT_EQ(gelu.severity, Severity::suspicious);
  EXPECT_EQ(gelu.rule, "global.unknown");
}

TEST(Policy, ModuleTrustCoversDefinitionsNotWalksOrFunctionsWhenClassesOnly) {
  const std::string path = ::testing::TempDir() + "trust-classes.toml";
  std::ofstream(path) << "[[trust]]\nreason = \"torch layers\"\neffects = [\"reference\", \"call\", \"build\"]\n"
                         "only_classes = true\nmodules = [\"torch.nn.modules\"]\n";
  auto policy = Policy::with_files({path});
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy.value()->judge("torch.nn.modules.linear", "Linear", SymbolUse::build).rule, "global.trusted");
  // A module-level function (a process-wide hook installer) is not a class.
  EXPECT_EQ(policy.value()->judge("torch.nn.modules.module", "register_module_forward_hook", SymbolUse::call).rule,
            "global.unknown");
  // An attribute walk to a method called on a dummy self is never covered by module trust.
  EXPECT_EQ(policy.value()->judge("torch.nn.modules.module", "Module.register_forward_hook", SymbolUse::call).rule,
            "global.unknown");
}

TEST(Policy, CataloguedSinksAreMaliciousWhenRunNotWhenNamed) {
  const std::string path = ::testing::TempDir() + "sinks.toml";
  std::ofstream(path) << "[policy]\nname = \"sinks\"\n[[sink]]\nkind = \"code\"\nreason = \"evaluates text\"\n"
                         "symbols = [[\"somelib.parse\", \"somelib.parse -> somelib._eval -> builtins.eval\"], "
                         "\"somelib.other\"]\n";
  auto policy = Policy::with_files({path}, {"scikit-learn"});
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  auto called = policy.value()->judge("somelib", "parse", SymbolUse::call);
  EXPECT_EQ(called.severity, Severity::malicious);
  EXPECT_EQ(called.rule, "global.sink");
  EXPECT_NE(called.reason.find("somelib._eval -> builtins.eval"), std::string::npos) << called.reason;
  EXPECT_EQ(policy.value()->judge("somelib", "other", SymbolUse::build).rule, "global.sink");
  // Named only: what it was before the catalogue (code that needs trust), not malicious.
  EXPECT_EQ(policy.value()->judge("somelib", "parse", SymbolUse::reference).rule, "global.unknown");
}

TEST(Policy, ArgumentEffectsAndStateRulesAreData) {
  auto policy = builtin_policy();
  const ArgumentEffects* generator = policy->argument_effects("numpy.random._pickle", "__generator_ctor");
  ASSERT_NE(generator, nullptr);
  EXPECT_EQ(generator->calls, std::vector<int>{1});
  const ArgumentEffects* reconstructor = policy->argument_effects("copyreg", "_reconstructor");
  ASSERT_NE(reconstructor, nullptr);
  EXPECT_EQ(reconstructor->instance_of, 0);
  EXPECT_EQ(policy->argument_effects("collections", "OrderedDict"), nullptr);
  const StateRules& rules = policy->state_rules();
  EXPECT_NE(std::find(rules.unpickler_calls.begin(), rules.unpickler_calls.end(), "extend"), rules.unpickler_calls.end());
  EXPECT_NE(std::find(rules.hooks.begin(), rules.hooks.end(), "_forward_hooks"), rules.hooks.end());
  // A partial is judged as the function it wraps, so the partial itself is data.
  EXPECT_EQ(policy->judge("functools", "partial", SymbolUse::call).rule, "global.allowed");

  const std::string path = ::testing::TempDir() + "passes.toml";
  std::ofstream(path) << "[[passes]]\nreason = \"x\"\nsymbols = [\"a.b\"]\ncalls = [-1]\n";
  auto bad = Policy::with_files({path});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("positions"), std::string::npos) << bad.error().message;
}
