/**
 * Workbench's Node.js runtime: a Lambda Runtime API (2018-06-01) client, Node built-ins only.
 *
 * The engine runs it as `node --max-old-space-size=<0.9 x memory> bootstrap.js` in the function's
 * folder, behind a /bin/sh gate that sets the sandbox's rlimits first. It behaves as AWS's
 * Node.js runtime (aws-lambda-nodejs-runtime-interface-client, its 3.x JavaScript client) does,
 * so a handler sees the same event, context, callback semantics, console format and error
 * shapes:
 *
 * - handler `dir/file.a.b`, resolved from LAMBDA_TASK_ROOT: extensionless, `.js` (CommonJS
 *   unless the nearest package.json says "type": "module"), `.mjs` (import()), `.cjs`, then
 *   Node's own resolution; errors `Runtime.MalformedHandlerName`, `Runtime.ImportModuleError`,
 *   `Runtime.UserCodeSyntaxError`, `Runtime.HandlerNotFound`, each posted to /runtime/init/error.
 * - async handlers and handlers returning a promise: the settled value is the response at once.
 *   Callback handlers `(event, context, callback)`: `callback(err, result)`; with
 *   `context.callbackWaitsForEmptyEventLoop` true (the default) the response is sent when the
 *   event loop has nothing left to do (Node's 'beforeExit'), as AWS does, so a pending timer or
 *   open socket holds the invocation until it ends or times out; set to false, it is sent at once
 *   and whatever is still pending runs on in the next invocation (Lambda's freeze/thaw is not
 *   emulated: here it simply keeps running). `context.succeed/fail/done` as AWS's legacy API.
 *   A non-async handler that neither calls back nor returns a promise answers `null` once the
 *   event loop is empty; an async one whose promise never settles fails with Runtime.NodeJsExit.
 * - console.log/info/warn/error/debug/trace/fatal write one record per call:
 *   `<ISO time>\t<request id>\t<LEVEL>\t<util.format(...)>`, newlines turned into \r so a record
 *   is one line (the request id is `undefined` before the first invocation, as in AWS).
 *   AWS_LAMBDA_LOG_LEVEL filters, AWS_LAMBDA_LOG_FORMAT=JSON gives AWS's JSON records.
 * - errors: `{"errorType": err.name, "errorMessage": err.message, "trace": stack lines}`;
 *   a thrown non-Error `x` gives `{"errorType": typeof x, "errorMessage": String(x), "trace": []}`,
 *   logged as `ERROR\tInvoke Error \t{...}`. A response JSON.stringify cannot encode fails with
 *   `Error: Unable to stringify response body`; `undefined` is `null`. An uncaught exception or
 *   unhandled rejection fails the current invocation (`Runtime.UnhandledPromiseRejection` for
 *   the latter) and the runtime exits, 129 or 128, as AWS's does.
 * - `awslambda.streamifyResponse` handlers stream: each write goes to the Runtime API at once as
 *   a chunk of a streamed `/response` (`Lambda-Runtime-Function-Response-Mode: streaming`), an
 *   error after the first write ends it with the error trailers, as AWS's client does.
 *
 * The Runtime API is spoken over one keep-alive connection (see `Connection`): a result's POST
 * and the next GET /next go out in one write, which halves the warm path against Node's http
 * client.
 *
 * Log writes are synchronous (fs.writeSync on fd 1), so every line a handler logged is in the
 * pipe before its response is posted and the engine files it under the right invocation; if
 * user code wrote to process.stdout/stderr streams, those are flushed before the response too.
 *
 * Memory: the sandbox's RLIMIT_DATA makes a failed allocation visible to the process, where
 * Lambda's kernel would kill it. V8 running out of heap aborts by itself (SIGABRT, "signal:
 * aborted", as Lambda shows for a JavaScript heap OOM); a Buffer/ArrayBuffer allocation failure
 * that escapes the handler is finished as Lambda's OOM killer would, with SIGKILL.
 */

'use strict';

const net = require('net');
const fs = require('fs');
const path = require('path');
const util = require('util');

const env = process.env;
const API_PREFIX = '/2018-06-01/runtime';
const NEXT_PATH = `${API_PREFIX}/invocation/next`;
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY_HEADER = 'Lambda-Runtime-Function-Error-Body';
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';
const EXIT_INIT_ERROR = 1; // AWS's client exits 129 here (via uncaughtException); unobservable

// --------------------------------------------------------------------------- errors (AWS's)

class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class MalformedStreamingHandler extends Error {}
class CallbackHandlerDeprecated extends Error {}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
// UNVERIFIED: the message AWS's client gives this error (the type is in public logs).
class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most ' +
        'commonly caused by a Promise that was never settled. For more information, see ' +
        'https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
for (const cls of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  MalformedStreamingHandler,
  CallbackHandlerDeprecated,
  UnhandledPromiseRejection,
  NodeJsExit,
]) {
  cls.prototype.name = `Runtime.${cls.name}`;
}

// nodejs24.x dropped callback handlers. AWS's client for it (aws-lambda-nodejs-runtime-interface-
// client 4.x: src/function/callback-deprecation.ts, src/context/constants.ts) refuses, right after
// loading it, a handler declaring 3 or more parameters (handler.length, even an async one) unless
// it streams, with this message, as Runtime.CallbackHandlerDeprecated posted to /init/error:
const CALLBACK_HANDLER_REMOVED =
  'ERROR: AWS Lambda has removed support for callback-based function handlers starting with ' +
  'Node.js 24. You need to modify this function to use a supported handler signature to use ' +
  'Node.js 24 or later. For more information see ' +
  'https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.';
// The declared runtime decides, not the node that runs it (a nodejs24.x function may run on an
// older node here when no Node.js 24 is installed).
const DECLARED_NODE_MAJOR = Number(
  (/^AWS_Lambda_nodejs(\d+)\.x$/.exec(env.AWS_EXECUTION_ENV || '') || [])[1] || 0,
);
const CALLBACKS_REMOVED = DECLARED_NODE_MAJOR >= 24;

function isErrorLike(obj) {
  return (
    obj &&
    obj.name &&
    obj.message &&
    obj.stack &&
    typeof obj.name === 'string' &&
    typeof obj.message === 'string' &&
    typeof obj.stack === 'string'
  );
}

/** The body posted to /error or /init/error, as AWS's client shapes it. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: error.stack.split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or ' +
        'more of its message, name, and stack',
    };
  }
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

function withEnumerableProperties(value) {
  if (value instanceof Error) {
    const ret = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') ret.stack = value.stack.split('\n');
    return ret;
  }
  return value;
}

/** An error as AWS's text log shows it: a tab, then its JSON with name, message and stack. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

function isAllocationFailure(err) {
  return (
    err instanceof RangeError &&
    (err.message === 'Array buffer allocation failed' ||
      err.code === 'ERR_MEMORY_ALLOCATION_FAILED')
  );
}

// --------------------------------------------------------------------------- logging

const SLEEP = new Int32Array(new SharedArrayBuffer(4));

/** Write all of `text` to fd 1 now (the engine reads stdout and stderr as one pipe). */
function writeOut(text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off);
    } catch (e) {
      // A stream on fd 1/2 (process.stdout) made the pipe non-blocking: wait for room.
      if (e.code === 'EAGAIN') Atomics.wait(SLEEP, 0, 0, 1);
      else return; // EPIPE: nobody is reading any more
    }
  }
}

const LEVELS = {
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
};
const NEWLINES = /\n/g;

function logText(level, message, ...params) {
  const line =
    `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level.name}\t` +
    util.format(message, ...params);
  writeOut(line.replace(NEWLINES, '\r') + '\n');
}

function jsonErrorReplacer(_k, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJson(level, messageParams) {
  const result = {
    timestamp: new Date().toISOString(),
    level: level.name,
    requestId: globalThis[REQUEST_ID],
  };
  const tenantId = globalThis[TENANT_ID];
  if (tenantId !== undefined && tenantId !== null) result.tenantId = tenantId;
  if (messageParams.length === 1) {
    result.message = messageParams[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch (_) {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...messageParams);
  for (const param of messageParams) {
    if (param instanceof Error) {
      result.errorType = param?.constructor?.name ?? 'UnknownError';
      result.errorMessage = param.message;
      result.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

function logJson(level, message, ...params) {
  writeOut(formatJson(level, [message, ...params]).replace(NEWLINES, '\r') + '\n');
}

let logError; // (description, error): how an unhandled error is logged

/** Replace console's methods with AWS's, filtered by AWS_LAMBDA_LOG_LEVEL. */
function patchConsole() {
  const json = (env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const log = json ? logJson : logText;
  const threshold = LEVELS[(env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
  const nop = () => {};
  const method = (level) =>
    level.priority >= threshold.priority ? (msg, ...params) => log(level, msg, ...params) : nop;
  console.trace = method(LEVELS.TRACE);
  console.debug = method(LEVELS.DEBUG);
  console.info = method(LEVELS.INFO);
  console.log = console.info;
  console.warn = method(LEVELS.WARN);
  console.error = method(LEVELS.ERROR);
  console.fatal = (msg, ...params) => log(LEVELS.FATAL, msg, ...params);
  logError = json
    ? (_description, err) => console.error(intoError(err))
    : (description, err) => console.error(description, toFormatted(intoError(err)));
}

// process.stdout/stderr are created lazily by Node; note them if user code does, so what it
// wrote through them is flushed before the response is posted.
const userStreams = [];
for (const name of ['stdout', 'stderr']) {
  const desc = Object.getOwnPropertyDescriptor(process, name);
  if (desc && desc.get && desc.configurable) {
    let stream = null;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: desc.enumerable,
      get() {
        if (stream === null) {
          stream = desc.get.call(process);
          userStreams.push(stream);
        }
        return stream;
      },
    });
  }
}

/** Run `fn` once what user code queued on process.stdout/stderr has reached the pipe. */
function afterUserOutput(fn) {
  let pending = 0;
  for (const stream of userStreams) {
    if (stream.writableLength > 0 && !stream.destroyed) {
      pending++;
      stream.write('', () => --pending === 0 && fn());
    }
  }
  if (pending === 0) fn();
}

// --------------------------------------------------------------------------- Runtime API client

const API_ADDRESS = env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001'; // as AWS's clients default
const [apiHost, apiPort] = (() => {
  const address = API_ADDRESS;
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1'); // [::1]:9001
  return [host || '127.0.0.1', parseInt(address.slice(i + 1), 10)];
})();
const HOST_HEADER = `Host: ${API_ADDRESS}\r\nUser-Agent: workbench-node/${process.versions.node}\r\n`;
const NEXT_REQUEST = `GET ${NEXT_PATH} HTTP/1.1\r\n${HOST_HEADER}\r\n`;
const CRLF2 = Buffer.from('\r\n\r\n');
const GONE = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE']);

/**
 * One keep-alive HTTP/1.1 connection to the Runtime API, on a raw socket with TCP_NODELAY.
 *
 * Node's http client with a keep-alive Agent (what AWS's JavaScript fallback client uses) costs
 * about twice a bare socket's round trip, and one request at a time; here a result's POST and
 * the next GET /next leave in one write (HTTP pipelining), and the answers are parsed in order.
 * The engine's Runtime API always answers with a Content-Length. While no answer is awaited
 * the socket is unref'd, so it does not keep the event loop alive under a running handler
 * ('beforeExit' must still fire for callbackWaitsForEmptyEventLoop).
 */
class Connection {
  constructor(onGone) {
    this.waiting = []; // callbacks (status, headers, body) for the answers still to come
    this.chunks = [];
    this.size = 0;
    this.need = 0; // bytes the buffered answer needs before it is worth parsing again
    this.onGone = onGone;
    const socket = (this.socket = net.connect({ host: apiHost, port: apiPort }));
    socket.setNoDelay(true);
    socket.unref();
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (e) => this.gone(e));
    socket.on('close', () => this.gone(null));
  }

  /** Send `parts` (strings/Buffers) in one write; `expect` callbacks, one per request sent. */
  send(parts, ...expect) {
    if (this.waiting.length === 0) this.socket.ref();
    this.waiting.push(...expect);
    if (parts.every((part) => typeof part === 'string')) {
      this.socket.write(parts.length === 1 ? parts[0] : parts.join(''), 'utf8');
      return;
    }
    this.socket.cork();
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
  }

  onData(chunk) {
    let buf = chunk;
    if (this.size > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
      if (this.size < this.need) return; // a large body still arriving: no copy yet
      buf = Buffer.concat(this.chunks, this.size);
      this.chunks = [];
    }
    const answers = [];
    let off = 0;
    let need = 0;
    while (off < buf.length) {
      const end = buf.indexOf(CRLF2, off);
      if (end < 0) break;
      const lines = buf.latin1Slice(off, end).split('\r\n');
      const status = parseInt(lines[0].slice(9, 12), 10);
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i];
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = parseInt(headers['content-length'] || '0', 10);
      const start = end + 4;
      if (buf.length - start < length) {
        need = start + length - off;
        break;
      }
      answers.push(status, headers, buf.subarray(start, start + length));
      off = start + length;
    }
    if (off < buf.length) {
      const rest = off === 0 ? buf : buf.subarray(off);
      this.chunks = [rest];
      this.size = rest.length;
      this.need = need;
    } else {
      this.size = 0;
    }
    for (let i = 0; i < answers.length; i += 3) {
      const callback = this.waiting.shift();
      if (this.waiting.length === 0) this.socket.unref();
      if (callback) callback(answers[i], answers[i + 1], answers[i + 2]);
    }
  }

  gone(error) {
    const waiting = this.waiting;
    this.waiting = [];
    if (this.onGone) this.onGone(error, waiting.length > 0);
    else for (const callback of waiting) callback(0, {}, Buffer.alloc(0));
  }
}

function postBytes(apiPath, contentType, body, errorType) {
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  let head = `POST ${apiPath} HTTP/1.1\r\n${HOST_HEADER}Content-Type: ${contentType}\r\n`;
  if (errorType !== undefined) head += `${ERROR_TYPE_HEADER}: ${safeHeaderValue(errorType)}\r\n`;
  return [head + `Content-Length: ${length}\r\n\r\n`, body];
}

function safeHeaderValue(value) {
  return String(value).replace(/[^\t\x20-\x7e]/g, '');
}

function invocationPath(id, what) {
  return `${API_PREFIX}/invocation/${encodeURIComponent(id)}/${what}`;
}

function errorBytes(apiPath, error) {
  const response = toRapidResponse(error);
  return postBytes(apiPath, 'application/json', JSON.stringify(response), response.errorType);
}

let conn = null; // the keep-alive connection

/** The engine closed the Runtime API (the environment is being retired), or it broke. */
function connectionGone(error, awaited) {
  if (error && !GONE.has(error.code)) {
    writeOut(`workbench runtime: Runtime API connection failed: ${error.message}\n`);
    process.exit(1);
  }
  if (awaited || error) process.exit(0);
}

/** Post the invocation's result (or error) and ask for the next event, in one write. */
function finish(parts) {
  afterUserOutput(() => conn.send([...parts, NEXT_REQUEST], noop, onNext));
}

function respond(id, body, contentType = 'application/json') {
  finish(postBytes(invocationPath(id, 'response'), contentType, body));
}

function respondError(id, error) {
  finish(errorBytes(invocationPath(id, 'error'), error));
}

/** Post on a connection of its own, then exit: for errors that may strike while /next waits. */
function postThenExit(parts, code) {
  afterUserOutput(() => {
    const own = new Connection(null);
    own.send(parts, () => process.exit(code));
  });
}

function onNext(status, headers, body) {
  if (status !== 200) {
    writeOut(`workbench runtime: /next answered ${status}: ${body.toString()}\n`);
    process.exit(1);
  }
  invoke(headers, body.toString('utf8'));
}

function noop() {}

// --------------------------------------------------------------------------- handler loading

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

function hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) return false;
  const pj = path.join(folder, '/package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(
        `${pj} cannot be read, it will be ignored for ES module detection purposes.`,
        e,
      );
      return false;
    }
  }
  if (folder === '/') return false;
  return hasFolderPackageJsonTypeModule(path.resolve(folder, '..'));
}

function tryRequireFile(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? require(p) : undefined;
}

async function tryAwaitImport(file, extension) {
  const p = file + (extension || '');
  if (fs.existsSync(p)) return await import(require('url').pathToFileURL(p).href);
  return undefined;
}

/** Load the handler's module as AWS's client does, trying the same files in the same order. */
async function tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);
  const major = parseInt(process.versions.node, 10);
  const supportsTs = major >= 24;

  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) return extensionless;

  const pjHasModule = hasFolderPackageJsonTypeModule(path.dirname(lambdaStylePath));
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) return loaded;
  }
  const loaded =
    (pjHasModule && (await tryAwaitImport(lambdaStylePath, '.js'))) ||
    (await tryAwaitImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs') ||
    (supportsTs && !pjHasModule && tryRequireFile(lambdaStylePath, '.ts')) ||
    (supportsTs && pjHasModule && (await tryAwaitImport(lambdaStylePath, '.ts'))) ||
    (supportsTs && (await tryAwaitImport(lambdaStylePath, '.mts'))) ||
    (supportsTs && tryRequireFile(lambdaStylePath, '.cts'));
  if (loaded) return loaded;

  // Node's own resolution from the task root (a folder's index.js, node_modules, NODE_PATH).
  return require(require.resolve(module, { paths: [appRoot, moduleRoot] }));
}

async function loadUserApp(appRoot, moduleRoot, module) {
  try {
    return await tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e && e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying ` +
        'root directories in handler names.',
    );
  }
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  const match = handlerString.match(FUNCTION_EXPR);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, module, handlerPath] = match;

  const userApp = await loadUserApp(appRoot, moduleRoot, module);
  const handler = handlerPath.split('.').reduce((obj, key) => obj && obj[key], userApp);
  if (!handler) throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  if (typeof handler !== 'function') {
    throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handler;
}

// --------------------------------------------------------------------------- response streaming

/**
 * `awslambda.streamifyResponse`: what a streaming handler writes goes out as it is written, a
 * chunk each (the engine buffers it whole for a plain Invoke, as Lambda does).
 */
function installGlobalAwsLambda() {
  if (
    env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA === '1' ||
    env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA === 'true'
  ) {
    return;
  }
  class HttpResponseStream {
    static from(underlyingStream, prelude) {
      underlyingStream.setContentType('application/vnd.awslambda.http-integration-response');
      underlyingStream.write(JSON.stringify(prelude));
      underlyingStream.write(Buffer.alloc(8)); // AWS's delimiter between prelude and body
      return underlyingStream;
    }
  }
  globalThis.awslambda = {
    streamifyResponse: (handler, options) => {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (typeof options?.highWaterMark === 'number') {
        handler[Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark')] = parseInt(
          options.highWaterMark,
        );
      }
      return handler;
    },
    HttpResponseStream,
  };
}

/** The handler's `responseStream`: the request head on the first write, then one chunk a write. */
function streamingResponse(id) {
  const { Writable } = require('stream');
  const socket = conn.socket;
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    socket.write(
      `POST ${invocationPath(id, 'response')} HTTP/1.1\r\n${HOST_HEADER}` +
        `Content-Type: ${safeHeaderValue(stream.contentType)}\r\n` +
        'Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n' +
        `Trailer: ${ERROR_TYPE_HEADER}, ${ERROR_BODY_HEADER}\r\n\r\n`,
    );
  };
  const stream = new Writable({
    highWaterMark: handler[Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark')],
    write(chunk, _encoding, cb) {
      start();
      if (chunk.length === 0) return cb();
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`);
      socket.write(chunk);
      const room = socket.write('\r\n');
      socket.uncork();
      if (room) cb();
      else socket.once('drain', () => cb());
    },
  });
  stream.contentType = 'application/octet-stream';
  stream.setContentType = (type) => {
    stream.contentType = type;
  };
  stream.started = () => started;
  /** The end of the body (with the error trailers if `error`), then the next /next. */
  stream.finishParts = (error) => {
    start();
    if (error === undefined) return ['0\r\n\r\n'];
    const response = toRapidResponse(error);
    const body = Buffer.from(JSON.stringify(response)).toString('base64');
    return [
      `0\r\n${ERROR_TYPE_HEADER}: ${safeHeaderValue(response.errorType)}\r\n` +
        `${ERROR_BODY_HEADER}: ${body}\r\n\r\n`,
    ];
  };
  return stream;
}

// --------------------------------------------------------------------------- invocations

let handler = null;
let handlerIsAsync = false;
let handlerStreaming = false;
let beforeExitListener = noop;
const INIT_ERROR_PATH = `${API_PREFIX}/init/error`;
const errorCallbacks = {
  uncaughtException: (error) => postThenExit(errorBytes(INIT_ERROR_PATH, error), 129),
  unhandledRejection: (error) => postThenExit(errorBytes(INIT_ERROR_PATH, error), 128),
};

const staticContext = {
  functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
  functionName: env.AWS_LAMBDA_FUNCTION_NAME,
  memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
  logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
};

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

/** Fill the context with the environment's and this invocation's data (AWS's InvokeContext). */
function attachEnvironmentData(context, headers) {
  const trace = headers['lambda-runtime-trace-id'];
  if (trace) env._X_AMZN_TRACE_ID = trace;
  else delete env._X_AMZN_TRACE_ID;
  const deadline = headers['lambda-runtime-deadline-ms'];
  return Object.assign(context, staticContext, {
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
    awsRequestId: headers['lambda-runtime-aws-request-id'],
    tenantId: headers['lambda-runtime-aws-tenant-id'],
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

function serializeResponse(result) {
  try {
    const text = JSON.stringify(result === undefined ? null : result);
    return text === undefined ? 'null' : text; // a function or symbol: nothing to encode
  } catch (_) {
    throw new Error('Unable to stringify response body');
  }
}

/**
 * The callback, and the context's callback part, for one invocation (AWS's CallbackContext):
 * only the first of callback/succeed/fail/done counts.
 */
function buildCallbackContext(id) {
  let finished = false;
  let completeInvoked = false;
  let waitForEmptyEventLoop = true;

  const reportError = (err) => {
    if (isAllocationFailure(err)) outOfMemory();
    logError('Invoke Error', err);
    respondError(id, err);
  };
  const complete = (result) => {
    if (completeInvoked) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once ' +
          'per invocation.',
      );
      return;
    }
    completeInvoked = true;
    respond(id, serializeResponse(result)); // throws: the caller reports it as the error
  };
  const callback = (err, result) => {
    beforeExitListener = noop;
    if (err !== undefined && err !== null) {
      reportError(err);
    } else if (!waitForEmptyEventLoop) {
      complete(result);
    } else {
      beforeExitListener = () => {
        beforeExitListener = noop;
        setImmediate(() => {
          try {
            complete(result);
          } catch (e) {
            reportError(e);
          }
        });
      };
    }
  };
  const done = (err, result) => {
    beforeExitListener = noop;
    if (err !== undefined && err !== null) reportError(err);
    else complete(result);
  };
  // A call that throws (an unserialisable result) does not count: the next one reports it.
  const once =
    (fn) =>
    (...args) => {
      if (!finished) {
        fn(...args);
        finished = true;
      }
    };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result) => done(null, result)),
    fail: once((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
    done: once(done),
  };
  const markCompleted = () => {
    completeInvoked = true;
  };
  return [once(callback), context, markCompleted];
}

function isPromise(obj) {
  return obj && obj.then && typeof obj.then === 'function';
}

function setErrorCallbacks(id) {
  const errorPath = invocationPath(id, 'error');
  errorCallbacks.uncaughtException = (error) => postThenExit(errorBytes(errorPath, error), 129);
  errorCallbacks.unhandledRejection = (error) => postThenExit(errorBytes(errorPath, error), 128);
}

/** Run one invocation: the handler, then its response or error is posted. */
function invoke(headers, body) {
  const id = headers['lambda-runtime-aws-request-id'];
  globalThis[REQUEST_ID] = id;
  globalThis[TENANT_ID] = headers['lambda-runtime-aws-tenant-id'];
  if (handlerStreaming) return invokeStreaming(id, headers, body);
  const [callback, callbackContext, markCompleted] = buildCallbackContext(id);
  try {
    setErrorCallbacks(id);
    // If the event loop empties before the handler has answered.
    beforeExitListener = () => {
      beforeExitListener = noop;
      markCompleted();
      if (handlerIsAsync) {
        const error = new NodeJsExit();
        logError('Invoke Error', error);
        respondError(id, error);
      } else {
        respond(id, 'null');
      }
    };
    const result = handler(
      JSON.parse(body),
      attachEnvironmentData(callbackContext, headers),
      callback,
    );
    if (isPromise(result)) {
      result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
    }
  } catch (err) {
    callback(err);
  }
}

/** A `streamifyResponse` handler: its stream goes to the Runtime API as it is written. */
async function invokeStreaming(id, headers, body) {
  const stream = streamingResponse(id);
  const fail = (err) => {
    if (isAllocationFailure(err)) outOfMemory();
    logError('Invoke Error', err);
    if (stream.started()) finish(stream.finishParts(err)); // mid-stream: in the trailers
    else respondError(id, err);
  };
  try {
    setErrorCallbacks(id);
    beforeExitListener = () => conn.send([NEXT_REQUEST], onNext); // as AWS's client
    const context = attachEnvironmentData({ callbackWaitsForEmptyEventLoop: true }, headers);
    const result = handler(JSON.parse(body), stream, context);
    if (!isPromise(result)) {
      beforeExitListener = noop;
      return fail(new Error('Streaming does not support non-async handlers.'));
    }
    if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
    beforeExitListener = noop;
    if (!stream.writableEnded) return fail(new Error('Response stream is not finished.'));
    if (!stream.writableFinished) await new Promise((resolve) => stream.once('finish', resolve));
    finish(stream.finishParts());
  } catch (err) {
    beforeExitListener = noop;
    fail(err);
  }
}

/** What Lambda's OOM killer does to a runtime that ran out of memory. */
function outOfMemory() {
  process.kill(process.pid, 'SIGKILL');
}

// --------------------------------------------------------------------------- start

async function main() {
  patchConsole();
  conn = new Connection(connectionGone); // runtime init ends here
  process.on('uncaughtException', (error) => {
    if (isAllocationFailure(error)) outOfMemory();
    logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  process.on('beforeExit', () => beforeExitListener());
  installGlobalAwsLambda();

  const appRoot = env.LAMBDA_TASK_ROOT || process.cwd();
  try {
    handler = await loadHandler(appRoot, env._HANDLER || '');
    const streaming = handler[HANDLER_STREAMING];
    if (streaming !== undefined && streaming !== null && streaming !== false) {
      if (streaming !== STREAM_RESPONSE) {
        throw new MalformedStreamingHandler('Only response streaming is supported.');
      }
      handlerStreaming = true;
    }
    if (CALLBACKS_REMOVED && !handlerStreaming && handler.length >= 3) {
      throw new CallbackHandlerDeprecated(CALLBACK_HANDLER_REMOVED);
    }
  } catch (error) {
    // AWS's 3.x client lets this reach its uncaughtException listener: logged as such; its 4.x
    // client (nodejs24.x) catches it and logs it as "Init Error" (UNVERIFIED: that the log line
    // is otherwise shaped as ours).
    logError(CALLBACKS_REMOVED ? 'Init Error' : 'Uncaught Exception', error);
    afterUserOutput(() =>
      conn.send(errorBytes(INIT_ERROR_PATH, error), () => process.exit(EXIT_INIT_ERROR)),
    );
    return;
  }
  try {
    handlerIsAsync = handler.constructor?.name === 'AsyncFunction';
  } catch (_) {
    handlerIsAsync = false;
  }
  conn.send([NEXT_REQUEST], onNext); // the first /next ends INIT
}

main();
