// Stops a binary built for x86-64-v3 (RP_CPU_LEVEL, top-level CMakeLists.txt) on a CPU without
// AVX2/FMA/BMI2 with a message, instead of dying later on an illegal instruction. This file is
// compiled for plain x86-64 and runs as a high-priority constructor, before C++ static
// initialisers of the default priority, so no instruction of the target runs first.
#include <unistd.h>

extern "C" {
// Referenced by the linker (--undefined) so that the archive member, hence the guard, is kept.
extern const int rp_cpu_guard_anchor;
const int rp_cpu_guard_anchor = 0;
}

#if defined(RP_REQUIRE_X86_64_V3) && defined(__x86_64__)
namespace {
__attribute__((constructor(101))) void require_x86_64_v3() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
    return;
  static const char message[] =
      "rewardpath: this build targets x86-64-v3 (AVX2, FMA, BMI2) and this CPU lacks them; rebuild it "
      "with CMAKE_ARGS=-DRP_CPU_LEVEL=baseline scripts/setup.sh (see README, \"Building for a cluster\")\n";
  [[maybe_unused]] const auto ignored = ::write(2, message, sizeof message - 1);
  ::_exit(70); // EX_SOFTWARE
}
} // namespace
#endif
