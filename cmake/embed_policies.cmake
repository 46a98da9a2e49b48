# Turns the policy TOML files into one C++ source holding them as string data, keyed by file name, so the
# binary carries its default policy (and the opt-in trust policies, named by file stem); the files in policies/
# stay the single source of truth. FUNCTION names the accessor the source defines.
set(body "// Generated from policy files by cmake/embed_policies.cmake. Do not edit.\n#include <span>\n#include <string_view>\n#include <utility>\nnamespace picklewall::detail {\nnamespace {\n")
string(REPLACE "|" ";" INPUTS "${INPUTS}")
set(entries "")
set(count 0)
foreach(input IN LISTS INPUTS)
  file(READ ${input} text)
  get_filename_component(name ${input} NAME)
  string(APPEND body "constexpr char policy_${count}[] = R\"PWPOLICY(${text})PWPOLICY\";\n")
  # Sized by the array, not by a constexpr strlen (which GCC caps at 262,144 steps: the sink catalogue is 1.8 MB).
  string(APPEND entries "    {\"${name}\", std::string_view(policy_${count}, sizeof(policy_${count}) - 1)},\n")
  math(EXPR count "${count} + 1")
endforeach()
string(APPEND body "constexpr std::pair<std::string_view, std::string_view> files[] = {\n${entries}};\n}  // namespace\n")
string(APPEND body "std::span<const std::pair<std::string_view, std::string_view>> ${FUNCTION}() { return files; }\n}  // namespace picklewall::detail\n")
file(WRITE ${OUTPUT}.tmp "${body}")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
