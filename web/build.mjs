// Bundles web/src into backend/strategy_service/web/static/ (ES modules, minified, code
// split so Firestore loads after the first draw) and writes a .gz beside each file.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "backend", "strategy_service", "web", "static");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { app: join(here, "src", "app.js") },
  bundle: true, splitting: true, format: "esm", minify: true, target: ["chrome110", "firefox115", "safari16"],
  outdir: out, chunkNames: "chunk-[hash]", legalComments: "linked", logLevel: "warning",
});
await build({ entryPoints: [join(here, "src", "app.css")], bundle: true, minify: true, outdir: out, logLevel: "warning" });
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));

let total = 0;
for (const name of readdirSync(out)) {
  if (!/\.(js|css)$/.test(name)) continue;
  const gz = gzipSync(readFileSync(join(out, name)), { level: 9 });
  writeFileSync(join(out, `${name}.gz`), gz);
  total += gz.length;
  console.log(`  ${name.padEnd(24)} ${(statSync(join(out, name)).size / 1024).toFixed(0).padStart(5)} KiB  gzip ${(gz.length / 1024).toFixed(0).padStart(4)} KiB`);
}
console.log(`web build: ${out} (gzip total ${(total / 1024).toFixed(0)} KiB)`);
