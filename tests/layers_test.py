#!/usr/bin/python3
"""Holds services/common to its layers (services/common/README.md): each
folder includes only the folders listed for it, so the platform reads bottom
up and a layer can be tested without the ones above it. Tests and their
helpers (files named *_test*) may include any layer. Exits 1 naming every
include that crosses a layer."""
import os
import re
import sys

ALLOWED = {
    "base": {"base"},
    "query": {"base", "query"},
    "text": {"base", "text"},
    "store": {"base", "query", "text", "store"},
    "api": {"base", "query", "api"},
    "resources": {"base", "query", "text", "store", "api", "resources"},
    "http": {"base", "http"},
    "server": {"base", "query", "text", "store", "api", "http", "server"},
    "client": {"base", "api", "client"},
    "testing": {"base", "query", "text", "store", "api", "resources",
                "http", "server", "client", "testing"},
}
INCLUDE = re.compile(r'#include "services/common/([a-z_]+)/')


def main(root):
    common = os.path.join(root, "services", "common")
    errors = []
    for layer in sorted(os.listdir(common)):
        folder = os.path.join(common, layer)
        if not os.path.isdir(folder):
            continue
        if layer not in ALLOWED:
            errors.append(f"services/common/{layer}/ is not a known layer")
            continue
        for dirpath, _, files in os.walk(folder):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                allowed = set(ALLOWED[layer])
                if "_test" in name:
                    allowed = set(ALLOWED["testing"]) | {"server"}
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.search(line)
                        if m and m.group(1) not in allowed:
                            rel = os.path.relpath(path, root)
                            errors.append(f"{rel}:{number}: {layer}/ includes "
                                          f"{m.group(1)}/")
    for e in errors:
        print(e)
    print(f"{len(errors)} layer violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
