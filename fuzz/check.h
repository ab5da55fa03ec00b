#ifndef SESH_FUZZ_CHECK_H_
#define SESH_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

// A property a fuzz target asserts: on failure, prints it and aborts, which
// libFuzzer reports as a crash with the input that broke it.
#define SESH_FUZZ_CHECK(cond)                                            \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,     \
                   __LINE__, #cond);                                     \
      std::abort();                                                      \
    }                                                                    \
  } while (0)

#endif  // SESH_FUZZ_CHECK_H_
