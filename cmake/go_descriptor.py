#!/usr/bin/python3
"""Recovers a .proto's descriptor from the Go code Debian ships for it.

Debian's libgoogle-common-protos-java (1.16) predates google.rpc.ErrorInfo,
which AIP-193 errors need. golang-google-genproto-dev carries a newer
error_details.pb.go whose gzipped FileDescriptorProto we read here and write as
a FileDescriptorSet (with its imports) that protoc takes via
--descriptor_set_in. Nothing of Google's is committed to the repository.

usage: go_descriptor.py <file.pb.go> <out.binpb>
"""
import gzip
import re
import sys

from google.protobuf import descriptor_pb2
from google.protobuf import duration_pb2


def main():
    src = open(sys.argv[1], encoding="utf-8").read()
    m = re.search(r"var fileDescriptor_[0-9a-f]+ = \[\]byte\{(.*?)\n\}", src,
                  re.S)
    if not m:
        sys.exit("no gzipped FileDescriptorProto in " + sys.argv[1])
    body = re.sub(r"//[^\n]*", "", m.group(1))
    raw = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]{2})", body))
    fdp = descriptor_pb2.FileDescriptorProto.FromString(gzip.decompress(raw))
    fds = descriptor_pb2.FileDescriptorSet()
    dep = fds.file.add()
    duration_pb2.DESCRIPTOR.CopyToProto(dep)
    fds.file.append(fdp)
    with open(sys.argv[2], "wb") as out:
        out.write(fds.SerializeToString())


if __name__ == "__main__":
    main()
