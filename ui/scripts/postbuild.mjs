// After `vite build`: vendor the API docs (Swagger UI, ReDoc) with their licences, keep
// the licences of every library bundled into the UI, and write build-manifest.json: the
// sha256 of every source file (and the lock file) and of every output file, which
// tests/ui/test_build_manifest.py recomputes, so a committed build always matches its source.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const UI = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = resolve(UI, "../api/ui_static");
const SKIP = new Set(["node_modules", "dist"]);
const lock = JSON.parse(readFileSync(join(UI, "package-lock.json"), "utf8"));
const version = (name) => lock.packages[`node_modules/${name}`].version;

function copy(pkg, files, target) {
  mkdirSync(target, { recursive: true });
  for (const file of files) {
    const from = join(UI, "node_modules", pkg, file);
    if (existsSync(from)) copyFileSync(from, join(target, file.split("/").pop()));
  }
}

// The API docs, loaded by /docs and /redoc instead of a CDN. Directory names carry the
// version, so the files can be cached for a year.
const swagger = `vendor/swagger-ui-dist-${version("swagger-ui-dist")}`;
copy("swagger-ui-dist", ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-bundle.js.LICENSE.txt", "LICENSE", "NOTICE"], join(OUT, swagger));
const redoc = `vendor/redoc-${version("redoc")}`;
copy("redoc", ["bundles/redoc.standalone.js", "bundles/redoc.standalone.js.LICENSE.txt", "LICENSE"], join(OUT, redoc));

const page = (title, head, body) => `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title}</title>
    <link rel="icon" type="image/svg+xml" href="/ui/favicon.svg" />
${head}
  </head>
  <body>
${body}
  </body>
</html>
`;
writeFileSync(
  join(OUT, "docs.html"),
  page(
    "Flowscope API - Swagger UI",
    `    <link rel="stylesheet" href="/ui/${swagger}/swagger-ui.css" />`,
    `    <div id="swagger-ui" data-openapi-url="/openapi.json"></div>
    <script src="/ui/${swagger}/swagger-ui-bundle.js"></script>
    <script src="/ui/docs-init.js"></script>`,
  ),
);
writeFileSync(
  join(OUT, "redoc.html"),
  page(
    "Flowscope API - ReDoc",
    "",
    `    <div id="redoc" data-openapi-url="/openapi.json"></div>
    <script src="/ui/${redoc}/redoc.standalone.js"></script>
    <script src="/ui/redoc-init.js"></script>`,
  ),
);

// Licences of the libraries bundled into the UI's own assets.
const bundled = ["preact", "echarts", "zrender", "tslib"];
const notices = [];
for (const pkg of bundled) {
  const dir = join(UI, "node_modules", pkg);
  const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const texts = ["LICENSE", "LICENSE.txt", "LICENSE.md", "NOTICE"]
    .filter((f) => existsSync(join(dir, f)))
    .map((f) => readFileSync(join(dir, f), "utf8").trim());
  notices.push(`${pkg} ${meta.version} (${meta.license})\n${"=".repeat(60)}\n${texts.join("\n\n")}\n`);
}
mkdirSync(join(OUT, "licenses"), { recursive: true });
writeFileSync(
  join(OUT, "licenses", "THIRD-PARTY-LICENSES.txt"),
  `Libraries bundled into Flowscope's web UI (assets/*.js). The API docs' libraries keep\n` +
    `their licence files beside them under vendor/.\n\n${notices.join("\n")}`,
);

function files(root) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      if (SKIP.has(name)) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(path);
    }
  };
  walk(root);
  return out;
}
const digest = (root, list) =>
  Object.fromEntries(
    list
      .map((p) => [relative(root, p).split(sep).join("/"), createHash("sha256").update(readFileSync(p)).digest("hex")])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
const manifest = {
  note: "Written by ui/scripts/postbuild.mjs (npm run build); checked by tests/ui/test_build_manifest.py.",
  source: digest(UI, files(UI)),
  output: digest(OUT, files(OUT).filter((p) => relative(OUT, p) !== "build-manifest.json")),
};
writeFileSync(join(OUT, "build-manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
console.log(`postbuild: ${Object.keys(manifest.source).length} source files, ${Object.keys(manifest.output).length} output files`);
