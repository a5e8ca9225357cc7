#!/usr/bin/python3
"""Every RPC of every service has its handler written out once where a reader
looks for it: `void <Something>Handler::<Rpc>(` in services/<name>/. Exits 1
naming each RPC with no definition, or with more than one."""
import os
import re
import sys

RPC = re.compile(r"^\s*rpc\s+(\w+)\s*\(", re.M)


def main(root):
    errors = []
    proto_root = os.path.join(root, "proto", "cstopa")
    for area in sorted(os.listdir(proto_root)):
        # The gateway lives at the top (gateway/), the services in services/.
        service_dir = os.path.join(root, "services", area)
        if area == "gateway":
            service_dir = os.path.join(root, "gateway")
        if not os.path.isdir(service_dir):
            continue  # a package without a service of its own (type)
        code = ""
        for name in sorted(os.listdir(service_dir)):
            if name.endswith(".cc") and not name.endswith("_test.cc"):
                with open(os.path.join(service_dir, name), encoding="utf-8") as f:
                    code += f.read()
        for dirpath, _, files in os.walk(os.path.join(proto_root, area)):
            for name in files:
                if not name.endswith(".proto"):
                    continue
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    rpcs = RPC.findall(f.read())
                for rpc in rpcs:
                    found = re.findall(r"\bvoid\s+\w+Handler::" + rpc + r"\(", code)
                    if len(found) != 1:
                        errors.append(f"{area}: rpc {rpc} has {len(found)} "
                                      f"handler definitions in {os.path.relpath(service_dir, root)}/")
    for e in errors:
        print(e)
    print(f"{len(errors)} RPCs without exactly one handler")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
