'use strict';
// Install step (when the package manager runs install scripts at all: npm 11 and pnpm 10 do not by default, and then
// lib/binding.ts loads the prebuild directly): use the prebuilt addon shipped for this platform and Node ABI when it
// loads, otherwise build from source with cmake-js (needs cmake, make, a C++20 compiler and Node's headers). Where the
// prebuild lives and how it is loaded is lib/binding.ts's business: a package holds it compiled in dist/ (a git
// checkout before its first build has neither dist/ nor prebuilds/, and builds).
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.resolve(__dirname, '..');

if (process.platform !== 'linux') {
  console.error(`shmring supports Linux only (memfd, futex, OFD locks); this is ${process.platform}.`);
  process.exit(1);
}

const bindingModule = path.join(root, 'dist', 'lib', 'binding.js');
if (fs.existsSync(bindingModule) && !process.env.SHMRING_BUILD_FROM_SOURCE) {
  const { loadBinding, prebuiltPath } = require(bindingModule);
  const prebuilt = prebuiltPath(root);
  if (fs.existsSync(prebuilt)) {
    try {
      loadBinding([prebuilt], root);
      console.log(`shmring: using prebuilt addon ${path.relative(root, prebuilt)}`);
      process.exit(0);
    } catch (err) {
      // The loader's message lists each path it tried with its error: show that one.
      const why = err.message.split('\n')[1]?.trim() ?? err.message;
      console.log(`shmring: prebuilt addon does not load (${why}); building from source`);
    }
  }
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    'shmring: building the native addon failed. It needs cmake (>= 3.15), make or ninja, a C++20 compiler\n' +
      '  (g++ >= 12) and the headers of the Node that runs it (include/node with v8.h).\n' +
      "  Debian/Ubuntu: apt-get install cmake make g++   (Node's headers come with the nodejs package, nvm and the\n" +
      '  official tarballs)\n' +
      '  then: npm rebuild shmring',
  );
  process.exit(result.status === null ? 1 : result.status);
}
