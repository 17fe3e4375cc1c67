'use strict';
// The table of contenders: id -> { impl, options, label }. An implementation (one file per transport) says which
// scenarios it runs, how the parent spawns its processes (`plan`), and what each child role does (`roles`).
// Variants of one transport share the implementation and differ in `options`.
const shmring = require('./shmring');
const postMessage = require('./post-message');
const unixSocket = require('./unix-socket');
const nativeC = require('./native-c');

const contenders = new Map([
  ['native-c', { impl: nativeC, options: {}, label: 'C SPSC ring over /dev/shm (baseline)' }],
  ['shmring', { impl: shmring, options: { mode: 'reliable', send: 'offer' }, label: 'shmring, offer() per message' }],
  [
    'shmring-batch',
    {
      impl: shmring,
      options: { mode: 'reliable', send: 'batch', batch: 64 },
      label: 'shmring, 64 offer()s per beginBatch()/commitBatch()',
    },
  ],
  [
    'shmring-claim',
    {
      impl: shmring,
      options: { mode: 'reliable', send: 'claim' },
      label: 'shmring, tryClaim() + commit() per message',
    },
  ],
  [
    'shmring-broadcast',
    {
      impl: shmring,
      options: { mode: 'broadcast', send: 'offer' },
      label: 'shmring broadcast mode, offer() per message',
    },
  ],
  [
    'shmring-m2o',
    {
      impl: shmring,
      options: { mode: 'many-to-one', send: 'offer' },
      label: 'shmring many-to-one ring, offer() per message from each producer',
    },
  ],
  [
    'shmring-inproc',
    {
      impl: shmring,
      options: { mode: 'reliable', send: 'offer', inProcess: true },
      label: 'shmring, offer() and poll() taking turns on one thread (no second process)',
    },
  ],
  [
    'shmring-async',
    {
      impl: shmring,
      options: { mode: 'reliable', send: 'offer', wait: 'async' },
      label: 'shmring, consumer sleeps in `await sub.wait()`',
    },
  ],
  [
    'postMessage',
    { impl: postMessage, options: { batch: 1 }, label: 'worker_threads postMessage, one message per call' },
  ],
  [
    'postMessage-batch',
    {
      impl: postMessage,
      options: { batch: 64 },
      label: 'worker_threads postMessage, 64 messages per transferred ArrayBuffer',
    },
  ],
  [
    'unix-socket',
    { impl: unixSocket, options: {}, label: 'Unix domain socket between processes, length-prefixed, batched writes' },
  ],
]);

module.exports = { contenders };
