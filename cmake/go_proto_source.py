#!/usr/bin/python3
"""Writes a .proto file back from the descriptor in the Go code Debian ships.

Debian's libgoogle-common-protos-java (1.16) has a google/api/resource.proto
without `plural` and `singular` (AIP-123), which every cstopa resource
declares. golang-google-genproto-dev carries a newer resource.pb.go; its
gzipped FileDescriptorProto (read as cmake/go_descriptor.py reads
error_details) is printed here as .proto source that replaces the jar's copy
in the build tree, so that protoc, buf and the generated clients all see one
version. Comments are not in a descriptor and are not reproduced. Handles what
such annotation files use: messages, nested enums and messages, fields,
extensions and file options. Nothing of Google's is committed.

usage: go_proto_source.py <file.pb.go> <out.proto>
"""
import gzip
import re
import sys

from google.protobuf import descriptor_pb2

FDP = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    FDP.TYPE_DOUBLE: "double", FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64", FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32", FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32", FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string", FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32", FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64", FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}


def read_descriptor(path):
    src = open(path, encoding="utf-8").read()
    m = re.search(r"var fileDescriptor_[0-9a-f]+ = \[\]byte\{(.*?)\n\}", src,
                  re.S)
    if not m:
        sys.exit("no gzipped FileDescriptorProto in " + path)
    body = re.sub(r"//[^\n]*", "", m.group(1))
    raw = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-fA-F]{2})", body))
    return descriptor_pb2.FileDescriptorProto.FromString(gzip.decompress(raw))


def field_line(f, indent):
    if f.type in SCALARS:
        type_name = SCALARS[f.type]
    elif f.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
        type_name = f.type_name
    else:
        sys.exit("unsupported field type in " + f.name)
    label = "repeated " if f.label == FDP.LABEL_REPEATED else ""
    return f"{indent}{label}{type_name} {f.name} = {f.number};"


def enum_lines(e, indent):
    out = [f"{indent}enum {e.name} {{"]
    out += [f"{indent}  {v.name} = {v.number};" for v in e.value]
    return out + [f"{indent}}}"]


def message_lines(m, indent):
    if m.oneof_decl or m.extension or m.extension_range:
        sys.exit("unsupported message shape: " + m.name)
    out = [f"{indent}message {m.name} {{"]
    for e in m.enum_type:
        out += enum_lines(e, indent + "  ")
    for n in m.nested_type:
        out += message_lines(n, indent + "  ")
    out += [field_line(f, indent + "  ") for f in m.field]
    return out + [f"{indent}}}"]


def main():
    fdp = read_descriptor(sys.argv[1])
    out = [f"// Generated from {sys.argv[1]} by cmake/go_proto_source.py.",
           f'syntax = "{fdp.syntax or "proto2"}";', "",
           f"package {fdp.package};", ""]
    out += [f'import "{d}";' for d in fdp.dependency] + [""]
    for field, value in fdp.options.ListFields():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, str):
            value = '"' + value.replace('"', '\\"') + '"'
        out.append(f"option {field.name} = {value};")
    out.append("")
    extendees = []
    for x in fdp.extension:
        if x.extendee not in extendees:
            extendees.append(x.extendee)
    for extendee in extendees:
        out.append(f"extend {extendee} {{")
        out += [field_line(x, "  ") for x in fdp.extension
                if x.extendee == extendee]
        out.append("}")
    for e in fdp.enum_type:
        out += enum_lines(e, "")
    for m in fdp.message_type:
        out += message_lines(m, "")
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
