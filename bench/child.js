'use strict';
// Entry of every JavaScript benchmark child process: `node bench/child.js <contender> <role> <params-json>`.
// Protocol with the parent (bench/runner.js), shared with the native baseline: print "ready" once set up, wait for a
// "go" line on stdin, run, print one JSON result line per role it plays (a process hosting worker threads prints one
// per worker), then "done"; exit when the parent closes stdin (so a producer's ring outlives its consumers' reads).
// A child that cannot run prints {"skip": reason} instead.
const { contenders } = require('./contenders');

const [contenderId, role, paramsJson] = process.argv.slice(2);
const entry = contenders.get(contenderId);
if (!entry) {
  console.error(`unknown contender ${contenderId}`);
  process.exit(2);
}
const run = entry.impl.roles[role];
if (!run) {
  console.error(`contender ${contenderId} has no role ${role}`);
  process.exit(2);
}
const params = { ...JSON.parse(paramsJson), ...entry.options };

let goResolve;
const goPromise = new Promise((resolve) => (goResolve = resolve));
let stdinText = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  stdinText += String(chunk);
  if (stdinText.includes('go\n')) {
    process.stdin.pause();
    goResolve();
  }
});
process.stdin.on('end', () => process.exit(0));

let cpuAtGo;
let skipped = false;
const io = {
  ready() {
    process.stdout.write('ready\n');
  },
  async go() {
    await goPromise;
    cpuAtGo = process.cpuUsage();
  },
  /** One result line; cpuUs = this process's CPU time since "go" (all threads). */
  report(result) {
    const cpu = process.cpuUsage(cpuAtGo);
    process.stdout.write(JSON.stringify({ role, cpuUs: cpu.user + cpu.system, ...result }) + '\n');
  },
  skip(reason) {
    skipped = true;
    process.stdout.write(JSON.stringify({ skip: reason }) + '\n');
  },
};

Promise.resolve()
  .then(() => run(params, io))
  .then(
    () => {
      process.stdout.write('done\n');
      if (skipped) process.exit(0);
      process.stdin.resume();
    },
    (err) => {
      console.error(err && err.stack ? err.stack : String(err));
      process.exit(1);
    },
  );
