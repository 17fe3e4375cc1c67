'use strict';
// The cases, in the order they run and are reported. One file per case; `--filter` picks among their runs.
module.exports = ['throughput', 'fanout', 'many-to-one', 'rtt', 'wake', 'micro', 'gc'].map((id) => require(`./${id}`));
