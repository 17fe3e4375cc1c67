'use strict';
// Runs one case x contender: spawns its processes in order (each must print "ready" before the next starts, so a
// producer exists before its consumers open the ring), sends "go" in reverse order (consumers first), collects one
// JSON line per role until every process printed "done", then closes stdin and reaps them. Anything that fails or
// hangs is killed (by pid) and reported; files the run created in /dev/shm and the temp dir are removed.
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const live = new Set();
let cleanupPrefix = `shmring-bench-${process.pid}-`;

/** Kills every child still running (used on timeouts, errors and when the harness itself is interrupted). */
function killAll() {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Removes the /dev/shm files and temp files whose names start with this harness's prefix; latency sample files
 * (read and deleted by bench/measure.js) only when `all`.
 */
function removeFiles(all = false) {
  for (const dir of ['/dev/shm', os.tmpdir()]) {
    let names = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith(cleanupPrefix) && (all || !name.endsWith('.samples'))) {
        fs.rmSync(path.join(dir, name), { force: true });
      }
    }
  }
}

/** CPU time (µs) the whole machine spent busy, from /proc/stat (user+nice+system+irq+softirq+steal). */
function machineBusyUs() {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = cpu;
    return ((user + nice + system + irq + softirq + (steal || 0)) * 1e6) / 100; // USER_HZ = 100
  } catch {
    return NaN;
  }
}

function spawnChild(entry, onLine, onExit) {
  const child = spawn(entry.argv[0], entry.argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    out += chunk;
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line.length > 0) onLine(line);
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    if (err.length < 20_000) err += chunk;
  });
  child.stdin.on('error', () => {});
  child.on('exit', (code, signal) => {
    live.delete(child);
    onExit(code, signal, err);
  });
  child.on('error', (e) => {
    live.delete(child);
    onExit(null, null, `${err}${e.message}`);
  });
  return child;
}

/**
 * Runs the processes of `plan` ({ procs: [{ role, argv }] }). Resolves
 * { results: [json...], perProcessCpuUs, windowUs, othersCores, error?, skip? } - never rejects.
 */
function runPlan(plan, { timeoutMs }) {
  return new Promise((resolve) => {
    const procs = plan.procs.map((entry) => ({
      entry,
      child: null,
      ready: false,
      done: false,
      exited: false,
      cpuUs: 0,
    }));
    const results = [];
    let finished = false;
    let busyAtGo = NaN;
    let parentCpuAtGo = null;
    let goAt = 0n;
    const timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);

    /** Ends the run: children get `graceMs` to exit on their own (stdin closed), then SIGKILL. */
    function finish(outcome, graceMs = 0) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const pending = procs.filter((p) => p.child && !p.exited);
      const done = () => {
        clearTimeout(killTimer);
        removeFiles();
        resolve(outcome);
      };
      const kill = () => {
        for (const p of pending) if (!p.exited) p.child.kill('SIGKILL');
      };
      const killTimer = setTimeout(kill, graceMs);
      if (pending.length === 0) return done();
      let left = pending.length;
      for (const p of pending) p.child.once('exit', () => --left === 0 && done());
    }

    function fail(message) {
      if (finished) return;
      const stderr = procs
        .filter((p) => p.stderr)
        .map((p) => `[${p.entry.role}] ${p.stderr.trim().split('\n').slice(-6).join('\n')}`)
        .join('\n');
      finish({ results, error: stderr ? `${message}\n${stderr}` : message });
    }

    function startNext(index) {
      if (index === procs.length) return go();
      const p = procs[index];
      p.child = spawnChild(
        p.entry,
        (line) => onLine(p, index, line),
        (code, signal, stderr) => {
          p.exited = true;
          p.stderr = stderr;
          if (finished) return;
          if (!p.done) fail(`${p.entry.role} exited (${signal || `code ${code}`}) before finishing`);
        },
      );
    }

    function onLine(p, index, line) {
      if (finished) return;
      if (line === 'ready') {
        p.ready = true;
        startNext(index + 1);
      } else if (line === 'done') {
        p.done = true;
        if (procs.every((q) => q.done)) complete();
      } else if (line.startsWith('{')) {
        let json;
        try {
          json = JSON.parse(line);
        } catch {
          return fail(`${p.entry.role} printed a malformed result: ${line.slice(0, 200)}`);
        }
        if (json.skip) return finish({ results, skip: json.skip });
        if (typeof json.cpuUs === 'number') p.cpuUs = Math.max(p.cpuUs, json.cpuUs);
        results.push(json);
      }
    }

    function go() {
      busyAtGo = machineBusyUs();
      parentCpuAtGo = process.cpuUsage();
      goAt = process.hrtime.bigint();
      for (let i = procs.length - 1; i >= 0; i--) procs[i].child.stdin.write('go\n');
    }

    function complete() {
      const windowUs = Number(process.hrtime.bigint() - goAt) / 1000;
      const parentCpu = process.cpuUsage(parentCpuAtGo);
      const ours = procs.reduce((sum, p) => sum + p.cpuUs, 0) + parentCpu.user + parentCpu.system;
      const othersCores = Math.max(0, (machineBusyUs() - busyAtGo - ours) / windowUs);
      for (const p of procs) p.child.stdin.end();
      finish({ results, windowUs, othersCores }, 3000);
    }

    startNext(0);
  });
}

/** Waits (up to maxMs) for a 250 ms window in which the rest of the machine used under `cores` cores. */
async function waitForQuiet(maxMs, cores) {
  const until = Date.now() + maxMs;
  do {
    const busy = machineBusyUs();
    const cpu = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, 250));
    const own = process.cpuUsage(cpu);
    const others = (machineBusyUs() - busy - own.user - own.system) / (Number(process.hrtime.bigint() - t0) / 1000);
    if (others < cores) return true;
  } while (Date.now() < until);
  return false;
}

module.exports = {
  runPlan,
  waitForQuiet,
  killAll,
  removeFiles,
  /** Names (files, sockets) a run may create: all start with the prefix that cleanup removes. */
  runName: (index) => `${cleanupPrefix}${index}`,
  tempPath: (index, suffix) => path.join(os.tmpdir(), `${cleanupPrefix}${index}${suffix}`),
  setPrefix(prefix) {
    cleanupPrefix = prefix;
  },
};
