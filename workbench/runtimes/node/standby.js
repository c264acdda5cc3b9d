/**
 * A standby Node.js runtime: Node started, no function yet (engine/runtime/standby.py).
 *
 * Node cannot fork, so a Node cold start would pay for Node's own start (~50 ms) every time.
 * Instead the engine keeps one of these running per runtime command; it loads what our runtime
 * client needs, says it is ready, and waits on stdin for its function:
 *
 *   line 1  {"env": {...}, "cwd": "..."}   the environment's variables and folder
 *   line 2  (empty)                        the go-ahead: its limits are set (as the gate's)
 *
 * It then becomes what an exec'd runtime is: exactly those variables (process.env and the C
 * environment alike, and /proc/PID/environ, which the engine's watchdog and tools read), that
 * folder, NODE_PATH's module paths, and bootstrap.js run as the main module. End of input before
 * either line (the engine closed or dropped it) ends the process.
 *
 * Nothing here may touch Node's thread pool, its timezone or its locale before the hand-over:
 * they read their variables on first use, which must be the function's.
 */

'use strict';

const fs = require('fs');
const path = require('path');
const Module = require('module');
const net = require('net');
// what bootstrap.js loads first: in the module cache already when it runs
require('util');

const BOOTSTRAP = path.join(__dirname, 'bootstrap.js');
const READY = 'workbench-standby-ready\n';
const SLEEP = new Int32Array(new SharedArrayBuffer(4));

let pending = Buffer.alloc(0);

/** The next line of stdin (without its newline), or null at its end. Blocking, on purpose. */
function readLine() {
  const chunk = Buffer.alloc(65536);
  for (;;) {
    const nl = pending.indexOf(10);
    if (nl >= 0) {
      const line = pending.subarray(0, nl).toString('utf8');
      pending = pending.subarray(nl + 1);
      return line;
    }
    let n;
    try {
      n = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') {
        Atomics.wait(SLEEP, 0, 0, 1);
        continue;
      }
      if (e.code === 'EINTR') continue;
      return null;
    }
    if (n === 0) return null;
    pending = Buffer.concat([pending, chunk.subarray(0, n)]);
  }
}

/**
 * Overwrite the variables block the kernel recorded at exec (padded by the engine for this)
 * with the function's, so /proc/PID/environ shows them as for an exec'd runtime. Called once
 * no pointer of the C environment points into that block any more (all were unset and set).
 */
function publishEnviron(env) {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[fields.length - 3]);
    const end = Number(fields[fields.length - 2]);
    const parts = Object.entries(env).map(([k, v]) => `${k}=${v}\0`);
    const block = Buffer.alloc(end - start); // zero-filled past the variables
    Buffer.from(parts.join(''), 'utf8').copy(block, 0, 0, block.length);
    const fd = fs.openSync('/proc/self/mem', 'r+');
    try {
      fs.writeSync(fd, block, 0, block.length, start);
    } finally {
      fs.closeSync(fd);
    }
  } catch (_) {
    // the variables are the process's all the same
  }
}

function becomeFunction(assignment) {
  const env = { ...assignment.env };
  process.chdir(assignment.cwd);
  // the gate's shell exports PWD, the physical folder unless the variable already names it
  let pwdIsCwd = false;
  try {
    pwdIsCwd = env.PWD !== undefined && fs.realpathSync(env.PWD) === process.cwd();
  } catch (_) {}
  if (!pwdIsCwd) env.PWD = process.cwd();
  for (const key of Object.keys(process.env)) delete process.env[key];
  for (const [key, value] of Object.entries(env)) process.env[key] = value;
  publishEnviron(env);
  Module._initPaths(); // NODE_PATH (and HOME's folders) are read at start: read them again
  process.argv[1] = BOOTSTRAP;
}

/**
 * One loopback connection, to itself, written to and read from: V8 compiles a function on its
 * first call, and the socket paths the runtime client's first connection takes (connect,
 * write, data, close) cost ~5 ms of compiling there; here they are compiled ahead.
 */
function warmUp(then) {
  let called = false;
  const done = () => {
    if (!called) setImmediate(then); // (a failed warm-up costs only its gain)
    called = true;
  };
  let peer = null;
  const server = net.createServer((socket) => {
    peer = socket;
    socket.end('x');
  });
  server.on('error', done);
  server.listen(0, '127.0.0.1', () => {
    const socket = net.connect({ host: '127.0.0.1', port: server.address().port });
    socket.setNoDelay(true);
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      if (peer !== null) peer.destroy();
      server.close();
      done();
    });
    socket.cork();
    socket.write('x');
    socket.uncork();
  });
}

function handOver() {
  fs.writeSync(1, READY);
  const line = readLine();
  if (line === null) process.exit(0);
  becomeFunction(JSON.parse(line));
  if (readLine() === null) process.exit(1); // no go-ahead: as the gate does
  Module.runMain(); // bootstrap.js, as `node bootstrap.js` would have run it
}

warmUp(handOver);
