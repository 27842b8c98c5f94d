"""Builds the zerocell.v1 and google.rpc stubs from the repository's proto/ into the package."""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.environ.get("ZEROCELL_PROTO_DIR", os.path.join(HERE, "..", "..", "proto"))
PROTOS = ["zerocell/v1/sandbox.proto", "google/rpc/status.proto"]


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        from grpc_tools import protoc  # Debian: python3-grpc-tools

        out = self.build_lib
        args = ["grpc_tools.protoc", f"--proto_path={PROTO_DIR}", f"--python_out={out}",
                f"--grpc_python_out={out}"] + [os.path.join(PROTO_DIR, p) for p in PROTOS]
        if protoc.main(args) != 0:
            raise RuntimeError("grpc_tools.protoc failed on " + ", ".join(PROTOS))
        # zerocell and zerocell.v1 are regular packages; google stays a namespace package (it
        # is shared with protobuf's google.protobuf).
        for package in ("zerocell", "zerocell/v1"):
            open(os.path.join(out, package, "__init__.py"), "a").close()
        # The channels' service config, read by zerocell_client from beside the stubs.
        shutil.copyfile(os.path.join(PROTO_DIR, "zerocell/v1/service_config.json"),
                        os.path.join(out, "zerocell/v1/service_config.json"))


setup(cmdclass={"build_py": BuildWithStubs},
      packages=[], package_data={})
