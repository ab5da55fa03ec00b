"""sesh_fuzzer: one libFuzzer target, built only under --config=fuzz."""

def sesh_fuzzer(name, deps = []):
    """cc_binary `<name>_fuzzer` from `<name>_fuzzer.cc`, seeded by corpus/<name>/.

    Tagged manual, so `bazel build //...` (gcc) never picks it up; built
    elsewhere than --config=fuzz it is reported incompatible, not misbuilt.
    """
    native.cc_binary(
        name = name + "_fuzzer",
        srcs = [name + "_fuzzer.cc"],
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["fuzzer", "manual"],
        target_compatible_with = select({
            "//fuzz:fuzz_build": [],
            "//conditions:default": ["@platforms//:incompatible"],
        }),
        deps = deps + ["//fuzz:check"],
    )
