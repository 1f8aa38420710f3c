"""Writes a FileDescriptorSet of Temporal's API as carried by the installed `temporalio` package.

Every `temporalio.api.*_pb2` module (except `temporalio.api.cloud`, which the server does not serve) holds
its serialized FileDescriptorProto; walking their dependencies gives a closed set that protoc can read with
`--descriptor_set_in`. Usage: python dump_descriptors.py OUT.pb  (prints the temporal/api file names).
"""

import importlib
import pkgutil
import sys

from google.protobuf import descriptor_pb2

import temporalio
import temporalio.api


def api_modules():
    for info in pkgutil.walk_packages(temporalio.api.__path__, "temporalio.api."):
        if info.name.startswith("temporalio.api.cloud"):
            continue
        if info.name.endswith("_pb2"):
            yield importlib.import_module(info.name)


def main(out_path: str) -> None:
    seen = {}

    def add(file_descriptor):
        if file_descriptor.name in seen:
            return
        for dependency in file_descriptor.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(proto)
        seen[file_descriptor.name] = proto

    for module in api_modules():
        add(module.DESCRIPTOR)

    descriptor_set = descriptor_pb2.FileDescriptorSet()
    descriptor_set.file.extend(seen.values())  # dependencies first, as protoc expects
    with open(out_path, "wb") as out:
        out.write(descriptor_set.SerializeToString())
    for name in sorted(seen):
        print(name)


if __name__ == "__main__":
    main(sys.argv[1])
