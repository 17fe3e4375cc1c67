'use strict';
// prepack: ship the addon built here as prebuilds/linux-<arch>/shmring.abi<ABI>.node, so that `npm install shmring`
// works even where npm blocks dependencies' install scripts (npm 11): lib/binding.ts loads the prebuild directly,
// and scripts/install.js prefers it when it loads. The binary is tied to this Node ABI (it uses V8's API).
// Usage: node scripts/prebuild.js [outputRoot]   (default: the package root)
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const outRoot = path.resolve(process.argv[2] || root);
const source = path.join(root, 'build', 'Release', 'shmring.node');
const target = path.join(outRoot, 'prebuilds', `linux-${process.arch}`, `shmring.abi${process.versions.modules}.node`);

if (process.platform !== 'linux') {
  console.error(`shmring: prebuilds are made on Linux only; this is ${process.platform}`);
  process.exit(1);
}
if (!fs.existsSync(source)) {
  console.error(`shmring: ${source} is missing: build it first with \`npx cmake-js compile --out build\``);
  process.exit(1);
}
const abi = require(source).abiVersion;
if (abi !== Number(process.versions.modules)) {
  console.error(`shmring: ${source} was built for Node ABI ${abi}, this is ABI ${process.versions.modules}: rebuild it`);
  process.exit(1);
}
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(source, target);
console.log(`shmring: prebuilt addon ${path.relative(process.cwd(), target) || target}`);
