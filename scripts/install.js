'use strict';
// Install step: use a prebuilt addon shipped for this platform and Node ABI when one loads,
// otherwise build from source with cmake-js (needs cmake, a C++17 compiler and Node's headers).
const { spawnSync } = require('child_process');
const path = require('path');
const fs = require('fs');

const root = path.resolve(__dirname, '..');

if (process.platform !== 'linux') {
  console.error(`shmring supports Linux only (memfd, futex, OFD locks); this is ${process.platform}.`);
  process.exit(1);
}

const prebuilt = path.join(root, 'prebuilds', `linux-${process.arch}`, `shmring.abi${process.versions.modules}.node`);
if (fs.existsSync(prebuilt) && !process.env.SHMRING_BUILD_FROM_SOURCE) {
  try {
    require(prebuilt);
    console.log(`shmring: using prebuilt addon ${path.relative(root, prebuilt)}`);
    process.exit(0);
  } catch (err) {
    console.log(`shmring: prebuilt addon does not load (${err.message}); building from source`);
  }
}

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    'shmring: building the native addon failed. It needs cmake (>= 3.15), g++ (C++17) and Node\'s headers\n' +
      '  Debian/Ubuntu: apt-get install cmake g++   (Node\'s headers come with the nodejs package or nvm)\n' +
      '  then: npm rebuild shmring',
  );
  process.exit(result.status === null ? 1 : result.status);
}
