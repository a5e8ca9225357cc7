// Validates Kubernetes objects (a YAML stream on stdin, e.g. the output of
// `kubectl kustomize`) against the Kubernetes API schemas, offline, with the
// npm package kubernetes-models. Exits 1 listing every invalid object.
//
//   kubectl kustomize deploy/k8s/overlays/dev | node validate_manifests.mjs
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const tools = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
                           "../../tools/node_modules/");
const require = createRequire(tools);
const yaml = require(path.join(tools, "js-yaml"));

const docs = yaml.loadAll(readFileSync(0, "utf8")).filter(Boolean);
let failures = 0;
for (const doc of docs) {
  const [group, version] = doc.apiVersion.includes("/")
      ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  const modulePath = path.join(tools, "kubernetes-models",
                               group, version, `${doc.kind}.js`);
  const id = `${doc.kind}/${doc.metadata?.name}`;
  let Model;
  try {
    Model = (await import(modulePath))[doc.kind];
  } catch (e) {
    console.error(`${id}: no schema for ${doc.apiVersion} ${doc.kind}`);
    failures++;
    continue;
  }
  // The API server decodes Secret data with Go's base64, which skips line
  // breaks; kustomize folds long values. Validate what the server sees.
  if (doc.kind === "Secret" && doc.data) {
    for (const k of Object.keys(doc.data)) {
      doc.data[k] = String(doc.data[k]).replace(/\s+/g, "");
    }
  }
  try {
    new Model(doc).validate();
    console.log(`ok ${id}`);
  } catch (e) {
    console.error(`${id}: ${e.message}`);
    failures++;
  }
}
if (docs.length === 0) {
  console.error("no objects on stdin");
  process.exit(1);
}
process.exit(failures ? 1 : 0);
