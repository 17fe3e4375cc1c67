'use strict';
// What the results were measured on: CPU model, cores, kernel, Node, and the clock source.
const fs = require('fs');
const os = require('os');

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function machineInfo() {
  const cpus = os.cpus();
  const cpuinfo = read('/proc/cpuinfo') || '';
  const model = (cpuinfo.match(/^model name\s*:\s*(.+)$/m) || [])[1] || cpus[0]?.model || 'unknown CPU';
  return {
    cpu: model.trim(),
    cores: cpus.length,
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    clocksource: read('/sys/devices/system/clocksource/clocksource0/current_clocksource'),
    node: process.version,
    v8: process.versions.v8,
  };
}

module.exports = { machineInfo };
