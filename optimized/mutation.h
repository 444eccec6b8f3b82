// Mutation switches: the sites where tests/mutants/ plants one small bug in a kernel to prove the
// checks catch it (tests/mutants/mutants.inc lists them; CMake option QB_MUTANTS builds each as a
// plugin library, never into the registry).
//
// QB_MUTANT_ON(id) is the compile-time constant `false` unless this translation unit is compiled
// with -DQB_MUTANT=id, and then true for that one id only. It is a template constant, so
// `cond ? bug : correct` and `if constexpr (QB_MUTANT_ON(id))` fold in the front end: a release
// build (no QB_MUTANT) compiles exactly the correct expression.
#pragma once

namespace qb::mutation {

constexpr bool same_id(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

template <bool kOn>
inline constexpr bool on = kOn;

}  // namespace qb::mutation

#define QB_MUTANT_STR_(x) #x
#define QB_MUTANT_STR(x) QB_MUTANT_STR_(x)
#ifdef QB_MUTANT
#define QB_MUTANT_ON(id) (::qb::mutation::on<::qb::mutation::same_id(QB_MUTANT_STR(QB_MUTANT), #id)>)
#else
#define QB_MUTANT_ON(id) false
#endif
