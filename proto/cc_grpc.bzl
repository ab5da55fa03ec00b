"""Protobuf and gRPC C++ code generation with Debian's protoc, offline.

Bazel's native proto rules want the protobuf source repository (a download),
so this macro runs /usr/bin/protoc and /usr/bin/grpc_cpp_plugin from a genrule
and wraps the generated files in a cc_library. Proto paths are relative to
this package (`sesh/v1/sessions.proto`), and so are the generated headers
(`#include "sesh/v1/sessions.pb.h"`).
"""

def cc_grpc_library(name, srcs, imports = [], deps = [], grpc = True, visibility = None):
    """Generates C++ for `srcs`; `imports` are other .proto files they import."""
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    out_dir = "$(GENDIR)/" + native.package_name()
    cmd = "/usr/bin/protoc -I" + native.package_name() + " --cpp_out=" + out_dir
    if grpc:
        cmd += " --grpc_out=" + out_dir + " --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin"
    cmd += " " + " ".join(["$(location " + s + ")" for s in srcs])
    native.genrule(
        name = name + "_gen",
        srcs = srcs + imports,
        outs = outs,
        cmd = cmd,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + ["//third_party:grpc"],
        visibility = visibility,
    )
