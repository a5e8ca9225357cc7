// Validates the gateway's OpenAPI document (the output of cstopa_openapi_dump)
// with the npm package @apidevtools/swagger-parser: the OpenAPI 3.0 JSON
// schema and every $ref. For OpenAPI 3 the package checks nothing beyond the
// schema, so the rules the schema cannot express are checked here too: unique
// operationIds, every path template variable declared as a required path
// parameter and every path parameter in the template, no parameter twice,
// every `required` property present. Exits 1 with the reasons.
//
//   cstopa_openapi_dump > openapi.json
//   NODE_PATH=tools/node_modules node tests/http/openapi_validate.mjs openapi.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const file = process.argv[2];
if (!file) {
  console.error("usage: node openapi_validate.mjs <openapi.json>");
  process.exit(2);
}

// NODE_PATH (CTest sets tools/node_modules), else the checkout's.
const tools = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
                           "../../tools/node_modules/");
let SwaggerParser;
for (const from of [import.meta.url, path.join(tools, "noop.js")]) {
  try {
    SwaggerParser = createRequire(from)("@apidevtools/swagger-parser");
    break;
  } catch {
    // next
  }
}
if (!SwaggerParser) {
  console.error("openapi_validate: the npm package @apidevtools/swagger-parser " +
                "is missing (not in NODE_PATH nor tools/node_modules); " +
                "run scripts/install-deps.sh");
  process.exit(1);
}

let doc;
try {
  doc = JSON.parse(readFileSync(file, "utf8"));
} catch (e) {
  console.error(`openapi_validate: ${file}: ${e.message}`);
  process.exit(1);
}

const problems = [];
try {
  // validate() dereferences its argument: give it a copy.
  await SwaggerParser.validate(structuredClone(doc));
} catch (e) {
  problems.push(`swagger-parser: ${e.message}`);
}

const verbs = ["get", "put", "post", "delete", "options", "head", "patch",
               "trace"];
const operationIds = new Map();
for (const [template, item] of Object.entries(doc.paths ?? {})) {
  const inTemplate = [...template.matchAll(/\{([^}]*)\}/g)].map((m) => m[1]);
  if (new Set(inTemplate).size !== inTemplate.length) {
    problems.push(`${template}: a template variable appears twice`);
  }
  for (const verb of verbs) {
    const op = item[verb];
    if (!op) continue;
    const where = `${verb.toUpperCase()} ${template}`;
    if (op.operationId) {
      if (operationIds.has(op.operationId)) {
        problems.push(`${where}: operationId ${op.operationId} is also ` +
                      `${operationIds.get(op.operationId)}'s`);
      }
      operationIds.set(op.operationId, where);
    }
    const params = [...(item.parameters ?? []), ...(op.parameters ?? [])];
    const seen = new Set();
    for (const p of params) {
      const key = `${p.in}:${p.name}`;
      if (seen.has(key)) problems.push(`${where}: parameter ${key} twice`);
      seen.add(key);
      if (p.in === "path") {
        if (p.required !== true) {
          problems.push(`${where}: path parameter ${p.name} is not required`);
        }
        if (!inTemplate.includes(p.name)) {
          problems.push(`${where}: path parameter ${p.name} is not in the path`);
        }
      }
    }
    for (const name of inTemplate) {
      if (!seen.has(`path:${name}`)) {
        problems.push(`${where}: {${name}} is not a declared path parameter`);
      }
    }
  }
}

// `required` names only properties the schema has (where it lists them).
function checkRequired(schema, where) {
  if (!schema || typeof schema !== "object") return;
  if (Array.isArray(schema)) {
    schema.forEach((s, i) => checkRequired(s, `${where}/${i}`));
    return;
  }
  if (Array.isArray(schema.required) && schema.properties &&
      !schema.allOf && !schema.additionalProperties) {
    for (const name of schema.required) {
      if (!(name in schema.properties)) {
        problems.push(`${where}: required property ${name} is not defined`);
      }
    }
  }
  for (const [key, value] of Object.entries(schema)) {
    if (key !== "required") checkRequired(value, `${where}/${key}`);
  }
}
checkRequired(doc.components?.schemas, "#/components/schemas");

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`openapi_validate: ${file}: ${problems.length} problem(s)`);
  process.exit(1);
}
console.log(`openapi_validate: ${file}: valid OpenAPI ${doc.openapi}, ` +
            `${Object.keys(doc.paths ?? {}).length} paths, ` +
            `${operationIds.size} operations`);
